using NextStep.Sampling;
using NextStep.Tests.Support;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Sampling;

/// <summary>
/// Every <c>fm.sample.*</c> case of the three golden folders, run on the tiny checkpoint's head: (a) with the recorded
/// draws injected, (b) seeded like the fixture (<c>torch.manual_seed(seed)</c>) with the sampler drawing itself,
/// which must reproduce every recorded draw in order.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class SamplerGoldenTests
{
    public static IEnumerable<object[]> Cases() => SamplerCases.Data();

    private static Tensor Run(SamplerCase c, NoiseSource noise)
    {
        using var cond = c.Tensor("c").to(c.ModelType);
        return Samplers.Create(c.Sampler).Sample(TinyHead.Net(c.ModelType), cond, c.Settings, noise);
    }

    private static void AssertOut(SamplerCase c, Tensor actual, string how)
    {
        Assert.Equal(c.ModelType, actual.dtype);
        // Measured: float32 within 4.3e-6 (matrix-product kernels differ from the reference BLAS), bf16 exact.
        // Tolerances: float32 2e-6 of the largest value (|out| ≤ 12 here), bf16 one bf16 step (2^-8) of it.
        double rtol = c.ModelType == ScalarType.BFloat16 ? 1.0 / 256 : 2e-6;
        TensorAssert.Close(c.Tensor("out"), actual, atol: 0, rtol: rtol, what: $"{c} ({how})");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RecordedNoiseInjected(string sampler, string name)
    {
        var c = SamplerCases.Get(sampler, name);
        int i = 0;
        NoiseSource inject = (shape, dtype, device) =>
        {
            var recorded = c.Tensor($"noise{i++}");
            Assert.Equal(recorded.shape, shape);
            return recorded.to(dtype, device);
        };
        using var x = Run(c, inject);
        Assert.Equal(c.NoiseDraws, i);
        AssertOut(c, x, "recorded noise");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OwnSeedReproducesTheDrawsAndTheOutput(string sampler, string name)
    {
        var c = SamplerCases.Get(sampler, name);
        var draws = new List<Tensor>();
        NoiseSource record = (shape, dtype, device) => { var n = Noise.Randn(shape, dtype, device); draws.Add(n.to(ScalarType.Float32).DetachFromDisposeScope()); return n; };
        torch.manual_seed(c.Seed);
        using var x = Run(c, record);
        Assert.Equal(c.NoiseDraws, draws.Count);
        for (int i = 0; i < draws.Count; i++)
            TensorAssert.Close(c.Tensor($"noise{i}"), draws[i], atol: 0, what: $"{c} noise{i}");
        AssertOut(c, x, "own seed");
    }
}
