using NextStep.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Sampling;

public class SamplerSettingsTests
{
    private static Tensor Zero(Tensor x, Tensor t, Tensor c) => zeros_like(x);

    private static string Fails(string sampler, SamplerSettings s, long rows = 2)
    {
        using var c = zeros(rows, 8);
        return Assert.Throws<NextStepException>(() => Samplers.Create(sampler).Sample(Zero, c, s with { TokenDim = 4 })).Message;
    }

    [Fact]
    public void UnknownNamesListTheValidOnes()
    {
        var e = Assert.Throws<NextStepException>(() => Samplers.Create("euler"));
        Assert.Contains("\"euler\"", e.Message);
        foreach (var n in new[] { "hf", "github2025", "v1.1" }) Assert.Contains(n, e.Message);
        var m = Fails(Samplers.V11, new SamplerSettings(SdeType: "heun"));
        Assert.Contains("\"heun\"", m); Assert.Contains("sde, cps, ode", m);
    }

    [Fact]
    public void Github2025NeedsTwoSteps()
    {
        Assert.Contains("num_sampling_steps = 1", Fails(Samplers.Github2025, new SamplerSettings(NumSamplingSteps: 1)));
        using var c = zeros(1, 8);
        using var one = Samplers.Create(Samplers.Hf).Sample(Zero, c, new SamplerSettings(NumSamplingSteps: 1, TokenDim: 4));
        Assert.Equal(new long[] { 1, 4 }, one.shape);
    }

    [Theory]
    [InlineData(0.5, 1.0, "cfg = 0.5")]
    [InlineData(1.0, 0.9, "cfg_img = 0.9")]
    [InlineData(double.NaN, 1.0, "cfg = NaN")]
    [InlineData(1.0, 2.0, "needs cfg > 1")]
    public void GuidanceScalesBelowOneOrImageWithoutTextAreRejected(double cfg, double cfgImg, string expected)
    {
        foreach (var name in Samplers.Names)
            Assert.Contains(expected, Fails(name, new SamplerSettings(cfg, cfgImg), rows: 6));
    }

    [Fact]
    public void RowsMustFitTheGuidanceBlocksAndTheNoiseRepeat()
    {
        Assert.Contains("multiple of cfg_mult = 3", Fails(Samplers.Hf, new SamplerSettings(7.5, 2.0), rows: 4));
        Assert.Contains("noise_repeat = 2", Fails(Samplers.Github2025, new SamplerSettings(NoiseRepeat: 2), rows: 3));
        Assert.Contains("cfg_mult = 1", Fails(Samplers.V11, new SamplerSettings(4.0, CfgMult: 1)));
        Assert.Contains("timesteps_shift = 0", Fails(Samplers.Hf, new SamplerSettings(TimestepsShift: 0)));
        Assert.Contains("\"ode\" is not available", Fails(Samplers.Hf, new SamplerSettings(SdeType: "ode")));
    }

    [Fact]
    public void NoiseRepeatIsIgnoredByV11AsInTheOfficialCode()
    {
        using var c = zeros(3, 8);
        using var x = Samplers.Create(Samplers.V11).Sample(Zero, c, new SamplerSettings(NoiseRepeat: 2, NumSamplingSteps: 2, TokenDim: 4));
        Assert.Equal(new long[] { 3, 4 }, x.shape);
    }

    [Fact]
    public void ExplicitCfgMultKeepsTheGuidanceRowsWhenTheScaleIsOne()
    {
        // [cond; uncond] with cfg 1: v = v_u + 1·(v_c − v_u) = v_c, so the ODE from zero noise moves by the cond velocity.
        using var c = cat(new[] { ones(1, 4), zeros(1, 4) }, 0);
        VelocityNet net = (x, t, cc) => cc.clone();
        NoiseSource none = (shape, dtype, device) => zeros(shape, dtype, device);
        using var x = Samplers.Create(Samplers.V11).Sample(net, c, new SamplerSettings(1.0, NumSamplingSteps: 4, SdeType: "ode", CfgMult: 2, TokenDim: 4), none);
        Assert.Equal(new long[] { 1, 4 }, x.shape);
        Assert.True(x.allclose(ones(1, 4)));
    }
}
