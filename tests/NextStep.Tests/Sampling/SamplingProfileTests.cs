using NextStep.Config;
using NextStep.Sampling;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Sampling;

public class SamplingProfileTests
{
    [Fact]
    public void ProfilesFollowTheCheckpoint()
    {
        var tiny = NextStepConfig.Load(Fixtures.Path("tiny", "model", "config.json"));
        Assert.Equal(SamplingProfile.Large, SamplingProfile.For(tiny, Fixtures.TinyModel));
        Assert.Equal(Samplers.Hf, Samplers.DefaultFor(tiny, Fixtures.TinyModel));
        Assert.Equal(SamplingProfile.LargeEdit, SamplingProfile.For(tiny, "/models/NextStep-1-Large-Edit/"));
        Assert.Equal(SamplingProfile.V11, SamplingProfile.For(tiny, "/models/NextStep-1.1"));
        Assert.Equal(SamplingProfile.V11, SamplingProfile.For(tiny with { BaseImageGridSize = 64 }, "/models/ckpt"));
        Assert.Equal(Samplers.V11, SamplingProfile.V11.Sampler);
        Assert.True(SamplingProfile.Large.UseNorm);
        Assert.False(SamplingProfile.V11.UseNorm);
    }
}
