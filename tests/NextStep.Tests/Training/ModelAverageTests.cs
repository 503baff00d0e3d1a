using NextStep.Config;
using NextStep.Loading;
using NextStep.Tests.Support;
using NextStep.Training;
using Xunit;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

/// <summary><see cref="ModelAverage"/>: the element-wise mean of model folders' weights.</summary>
public class ModelAverageTests
{
    [Fact]
    public void TheMeanOfTheTinyCheckpointAndAScaledCopyIsTheExpectedMultiple()
    {
        var root = Directory.CreateTempSubdirectory("nextstep-average-").FullName;
        string scaled = Path.Combine(root, "scaled"), output = Path.Combine(root, "mean");
        // A second folder whose every weight is 3 times the tiny checkpoint's, stored as float32 (exact: the bfloat16
        // weights have 8 significant bits); the mean, 2 times the bfloat16 weight, is exact in bfloat16 again.
        WriteTinyModelVariant(scaled, ck => ck.Names.Select(n => new KeyValuePair<string, Tensor>(n, ck.Load(n, ScalarType.Float32) * ThreeScalar)));

        ModelAverage.Run([Fixtures.TinyModel, scaled], output);

        using var original = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        using var mean = SafeTensorsCheckpoint.Open(output);
        Assert.Equal(original.Names.Order(), mean.Names.Order());
        foreach (var name in original.Names)
        {
            Assert.Equal(original.Info(name).DType, mean.Info(name).DType);
            using var a = original.Load(name, ScalarType.Float32);
            using var b = mean.Load(name, ScalarType.Float32);
            using var twice = a * TwoScalar;
            // (x + 3x) / 2 = 2x, exact here; the bound allows one bfloat16 rounding (8 significant bits).
            Assert.True(b.sub(twice).abs().le(twice.abs() * (1.0 / 128) + 1e-7).all().item<bool>(), name);
        }
        Assert.Equal(File.ReadAllText(Path.Combine(Fixtures.TinyModel, "config.json")), File.ReadAllText(Path.Combine(output, "config.json")));
    }

    [Fact]
    public void NamesAFolderWhoseTensorsDoNotMatch()
    {
        var root = Directory.CreateTempSubdirectory("nextstep-average-").FullName;
        string other = Path.Combine(root, "other");
        WriteTinyModelVariant(other, ck => ck.Names.Order(StringComparer.Ordinal).Skip(1).Select(n => new KeyValuePair<string, Tensor>(n, ck.Load(n))));
        var e = Assert.Throws<NextStepException>(() => ModelAverage.Run([Fixtures.TinyModel, other], Path.Combine(root, "mean")));
        Assert.Contains("is missing", e.Message);
        Assert.Contains(other, e.Message);
    }

    [Fact]
    public void NeedsTwoFolders()
    {
        var e = Assert.Throws<NextStepException>(() => ModelAverage.Run([Fixtures.TinyModel], Path.Combine(Path.GetTempPath(), "unused")));
        Assert.Equal("average: expected at least two model folders, got 1", e.Message);
    }

    /// <summary>A copy of the tiny model folder whose model.safetensors holds the given weights instead of its own.</summary>
    private static void WriteTinyModelVariant(string folder, Func<SafeTensorsCheckpoint, IEnumerable<KeyValuePair<string, Tensor>>> weights)
    {
        ModelCast.Run(Fixtures.TinyModel, folder, ScalarType.Float32, null);
        using var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        var tensors = weights(ck).ToList();
        try { DefaultModelRecipe.Save(tensors, folder); }
        finally { foreach (var t in tensors) t.Value.Dispose(); }
    }

    private static readonly Scalar ThreeScalar = 3.0, TwoScalar = 2.0;
}
