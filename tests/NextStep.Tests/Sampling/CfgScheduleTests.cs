using NextStep.Sampling;
using Xunit;

namespace NextStep.Tests.Sampling;

public class CfgScheduleTests
{
    [Theory]
    // Aug-2025 / HF: 1 + (cfg − 1)(n − k)/n, k = tokens already generated.
    [InlineData(LinearCfgForm.Decreasing, 4.0, 0, 16, 4.0)]
    [InlineData(LinearCfgForm.Decreasing, 4.0, 8, 16, 2.5)]
    [InlineData(LinearCfgForm.Decreasing, 4.0, 15, 16, 1.1875)]
    // Feb-2026: max(cfg/2, 1 + (cfg − 1)k/n).
    [InlineData(LinearCfgForm.Increasing, 4.0, 0, 16, 2.0)]
    [InlineData(LinearCfgForm.Increasing, 4.0, 8, 16, 2.5)]
    [InlineData(LinearCfgForm.Increasing, 4.0, 15, 16, 3.8125)]
    [InlineData(LinearCfgForm.Increasing, 1.5, 0, 16, 1.0)]
    public void LinearFormulas(LinearCfgForm form, double cfg, int k, int n, double expected) =>
        Assert.Equal(expected, CfgSchedules.At(CfgSchedule.Linear, form, cfg, k, n), 12);

    [Fact]
    public void ConstantAndParsing()
    {
        Assert.Equal(7.5, CfgSchedules.At(CfgSchedules.Parse("constant"), LinearCfgForm.Increasing, 7.5, 3, 16));
        Assert.Equal(CfgSchedule.Linear, CfgSchedules.Parse("linear"));
        var e = Assert.Throws<NextStepException>(() => CfgSchedules.Parse("cosine"));
        Assert.Contains("\"cosine\"", e.Message); Assert.Contains("constant, linear", e.Message);
        Assert.Throws<NextStepException>(() => CfgSchedules.At(CfgSchedule.Linear, LinearCfgForm.Decreasing, 2, 16, 16));
    }
}
