using NextStep.Config;
using NextStep.Loading;
using NextStep.Model;
using NextStep.Tests.Model;
using NextStep.Tests.Support;
using NextStep.Training;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

/// <summary><see cref="ModelCast"/>: a model folder stored in another dtype still computes the reference outputs.</summary>
public class ModelCastTests
{
    [Fact]
    public void AFloat16CopyOfTheTinyCheckpointStillMatchesTheReferenceBackbone()
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("nextstep-cast-").FullName, "model");
        ModelCast.Run(Fixtures.TinyModel, output, ScalarType.Float16, ScalarType.Float16);

        using (var file = SafeTensorsFile.Open(Path.Combine(output, "model.safetensors")))
            Assert.All(file.Tensors.Values, t => Assert.Equal("F16", t.DType));
        Assert.Contains("\"torch_dtype\": \"float16\"", File.ReadAllText(Path.Combine(output, "config.json")));
        using (var ck = TorchZipCheckpoint.Load(Path.Combine(output, "vae", "checkpoint.pt")))
        using (var original = TorchZipCheckpoint.Load(Path.Combine(Fixtures.TinyModel, "vae", "checkpoint.pt")))
        {
            Assert.Equal(original.Tensors.Keys.Order(), ck.Tensors.Keys.Order());
            foreach (var (name, t) in ck.Tensors)
            {
                Assert.Equal(ScalarType.Float16, t.dtype);
                using var a = original.Tensors[name].to(ScalarType.Float32);
                using var b = t.to(ScalarType.Float32);
                // float16 keeps 11 significant bits: a relative error of at most 2^-11 for normal values.
                Assert.True((a - b).abs().le(a.abs() * (1.0 / 2048) + 1e-7).all().item<bool>(), $"vae {name}");
            }
        }

        // The tiny checkpoint is bfloat16, which float16 holds exactly in its normal range: the backbone tolerance.
        TinyModel.AssertPrefillMatchesReference(output, "float16 copy prefill");
        using var vae = AutoencoderKL.Load(Path.Combine(output, "vae"));
    }

    [Fact]
    public void NamesAnUnknownDtype()
    {
        var e = Assert.Throws<NextStepException>(() => DTypeName.Parse("half", "--vae-dtype"));
        Assert.Equal("--vae-dtype half: expected float32, float16 or bfloat16", e.Message);
    }

    [Fact]
    public void RefusesToOverwriteTheModelItReads()
    {
        var e = Assert.Throws<NextStepException>(() => ModelCast.Run(Fixtures.TinyModel, Fixtures.TinyModel, ScalarType.Float16, null));
        Assert.Contains("must differ", e.Message);
    }
}
