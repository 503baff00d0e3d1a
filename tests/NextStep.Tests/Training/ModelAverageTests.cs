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
        // A second folder whose every weight is 3 times the tiny checkpoint's (exact in bfloat16: a power-of-two
        // multiple of a 2-bit-wider number; the mean, 2 times, is exact too).
        ModelCast.Run(Fixtures.TinyModel, scaled, ScalarType.Float32, null);
        using (var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel))
        {
            var tripled = ck.Names.Select(n => new KeyValuePair<string, Tensor>(n, ck.Load(n, ScalarType.Float32) * ThreeScalar)).ToList();
            DefaultModelRecipe.Save(tripled, scaled);
            foreach (var t in tripled) t.Value.Dispose();
        }

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
            // (x + 3x) / 2 = 2x: tolerance for the float32 sum rounded back to bfloat16 (8 significant bits).
            Assert.True(b.sub(twice).abs().le(twice.abs() * (1.0 / 128) + 1e-7).all().item<bool>(), name);
        }
        Assert.Equal(File.ReadAllText(Path.Combine(Fixtures.TinyModel, "config.json")), File.ReadAllText(Path.Combine(output, "config.json")));
    }

    [Fact]
    public void NamesAFolderWhoseTensorsDoNotMatch()
    {
        var root = Directory.CreateTempSubdirectory("nextstep-average-").FullName;
        string other = Path.Combine(root, "other");
        ModelCast.Run(Fixtures.TinyModel, other, ScalarType.Float32, null);
        using (var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel))
        {
            var fewer = ck.Names.Order(StringComparer.Ordinal).Skip(1).Select(n => new KeyValuePair<string, Tensor>(n, ck.Load(n))).ToList();
            DefaultModelRecipe.Save(fewer, other);
            foreach (var t in fewer) t.Value.Dispose();
        }
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

    private static readonly Scalar ThreeScalar = 3.0, TwoScalar = 2.0;
}
