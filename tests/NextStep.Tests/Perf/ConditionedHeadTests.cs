using NextStep.Sampling;
using NextStep.Tests.Sampling;
using NextStep.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Perf;

/// <summary>
/// The head with precomputed condition/time modulations (<see cref="NextStep.Model.ConditionedHead"/>) against every
/// golden <c>fm.sample.*</c> case (recorded noise injected), with the tolerances of the plain network's golden test.
/// </summary>
public class ConditionedHeadTests
{
    public static IEnumerable<object[]> Cases() => SamplerCases.Data();

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheGoldenSample(string samplerName, string name)
    {
        var c = SamplerCases.Get(samplerName, name);
        int i = 0;
        NoiseSource inject = (shape, dtype, device) => c.Tensor($"noise{i++}").to(dtype, device);
        var sampler = Samplers.Create(c.Sampler);
        using var cond = c.Tensor("c").to(c.ModelType);
        using var head = TinyHead.Module(c.ModelType).Condition(cond, sampler.Timesteps(c.Settings));
        using var x = sampler.Sample(head.Net, cond, c.Settings, inject);
        Assert.Equal(c.Steps, head.PrecomputedCalls);
        // As SamplerGoldenTests: float32 2e-6 of the largest value, bf16 one bf16 step (2^-8) of it.
        double rtol = c.ModelType == ScalarType.BFloat16 ? 1.0 / 256 : 2e-6;
        TensorAssert.Close(c.Tensor("out"), x, atol: 0, rtol: rtol, what: $"{c} (conditioned head)");
    }

    [Fact]
    public void OtherConditionsFallBackToThePlainNetwork()
    {
        var net = TinyHead.Module(ScalarType.Float32);
        using var c = randn(2, 64);
        using var other = c.clone();
        using var times = linspace(0, 0.96, 5, ScalarType.Float32);
        using var head = net.Condition(c, times);
        using var x = randn(2, 64);
        using var t = times[1].expand(2);
        using var cached = head.Net(x, t, c);
        using var plain = net.forward(x, t, other);
        Assert.Equal(1, head.PrecomputedCalls);
        using var fallback = head.Net(x, t, other);
        Assert.Equal(1, head.PrecomputedCalls);
        TensorAssert.Close(plain, cached, atol: 1e-5, what: "precomputed vs plain");
        TensorAssert.Close(plain, fallback, atol: 0, what: "fallback");
    }
}
