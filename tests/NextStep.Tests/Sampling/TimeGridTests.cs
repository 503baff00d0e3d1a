using NextStep.Sampling;
using NextStep.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Sampling;

public class TimeGridTests
{
    public static IEnumerable<object[]> ToOneCases() =>
        SamplerCases.Data(Samplers.Hf).Concat(SamplerCases.Data(Samplers.V11));

    [Theory]
    [MemberData(nameof(ToOneCases))]
    public void GridMatchesTheRecordedTimesteps(string sampler, string name)
    {
        var c = SamplerCases.Get(sampler, name);
        using var grid = Samplers.Create(sampler).Timesteps(c.Settings);
        Assert.Equal(ScalarType.Float32, grid.dtype);
        TensorAssert.Close(c.Tensor("timesteps"), grid, atol: 0, what: c.ToString());
    }

    [Theory]
    // nextstep-1.md §4.2: N = 50, s = 1 → 0, 0.019592, …, 0.96; s = 3.2 → 0, 0.006206, 0.012584, …, 0.831409, 0.882353.
    [InlineData(1.0, new[] { 0, 1, 48, 49 }, new[] { 0.0, 0.019592, 0.940408, 0.96 })]
    [InlineData(3.2, new[] { 0, 1, 2, 48, 49 }, new[] { 0.0, 0.006206, 0.012584, 0.831409, 0.882353 })]
    public void Github2025GridEndsAtOneMinusTheLastStep(double shift, int[] at, double[] expected)
    {
        using var grid = Samplers.Create(Samplers.Github2025).Timesteps(new SamplerSettings(NumSamplingSteps: 50, TimestepsShift: shift));
        Assert.Equal(50, grid.shape[0]);
        for (int i = 0; i < at.Length; i++)
            Assert.Equal(expected[i], grid[at[i]].item<float>(), 6);
    }
}
