using NextStep.Loading;
using NextStep.Tests.Support;
using NextStep.Tests.Tokenization;
using NextStep.Tokenization;
using NextStep.Training;
using Xunit;

namespace NextStep.Tests.Training;

/// <summary><see cref="Retokenize"/>: a model folder with a domain tokenizer and embedding rows carried over from the old spelling.</summary>
public class RetokenizeTests
{
    [Fact]
    public void CarriesRowsOverByTokenAndAveragesNewTokensFromTheirOldSpelling()
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("nextstep-retok-").FullName, "model");
        var result = Retokenize.Run(Fixtures.TinyModel, output, DomainTokenizerTests.ShapesCaptions(2_000));
        var oldTok = Qwen2Tokenizer.Load(Fixtures.TinyModel);
        var newTok = Qwen2Tokenizer.Load(output);
        using var before = SafeTensorsFile.Open(Path.Combine(Fixtures.TinyModel, "model.safetensors"));
        using var after = SafeTensorsFile.Open(Path.Combine(output, "model.safetensors"));
        Assert.Equal(before.Tensors.Keys.Order(), after.Tensors.Keys.Order());
        Assert.True(result.AveragedRows > 50, $"only {result.AveragedRows} new tokens");
        Assert.Equal(1024, result.KeptRows + result.AveragedRows);

        foreach (var name in before.Tensors.Keys)
        {
            var old = Floats(before, name);
            var now = Floats(after, name);
            if (name is not ("embed_tokens.weight" or "lm_head.weight")) { Assert.Equal(old, now); continue; }
            int width = (int)before.Tensors[name].Shape[1], rows = (int)before.Tensors[name].Shape[0];
            float[] Row(float[] t, int id) => t.AsSpan(id * width, width).ToArray();
            for (int id = 0; id < rows; id++)
            {
                if (id >= 1024) { Assert.Equal(Row(old, id), Row(now, id)); continue; } // added tokens keep their ids
                var token = newTok.IdToToken(id)!;
                var spelled = oldTok.TokenToId(token) is { } oldId ? [oldId] : oldTok.Encode(newTok.Decode([id]));
                var expected = new float[width];
                foreach (var s in spelled) for (int j = 0; j < width; j++) expected[j] += old[s * width + j] / spelled.Length;
                var actual = Row(now, id);
                // The tiny checkpoint is bfloat16: a mean is rounded to 8 significant bits when stored.
                for (int j = 0; j < width; j++)
                    Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-6 + Math.Abs(expected[j]) / 256, $"{name} row {id} (\"{token}\") column {j}: {actual[j]} vs {expected[j]}");
            }
        }
        Assert.True(File.Exists(Path.Combine(output, "vae", "config.json")));
        Assert.True(File.Exists(Path.Combine(output, "config.json")));
    }

    [Fact]
    public void RefusesToOverwriteTheModelItReads()
    {
        var e = Assert.Throws<NextStepException>(() => Retokenize.Run(Fixtures.TinyModel, Fixtures.TinyModel, ["a red circle"]));
        Assert.Contains("must differ", e.Message);
    }

    private static float[] Floats(SafeTensorsFile file, string name)
    {
        using var t = file.Load(name, TorchSharp.torch.ScalarType.Float32);
        return t.data<float>().ToArray();
    }
}
