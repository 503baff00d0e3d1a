using NextStep.Config;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Vae;

public sealed class VaeConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-vaeconfig-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private VaeConfig LoadJson(string json)
    {
        var p = Path.Combine(_dir, "config.json");
        File.WriteAllText(p, json);
        return VaeConfig.Load(p);
    }

    [Fact]
    public void FixtureConfigIsReadCompletely()
    {
        var c = VaeConfig.Load(Fixtures.Path("tiny", "model", "vae", "config.json"));
        Assert.Empty(c.DefaultedKeys);
        Assert.Equal([1, 1, 2, 2], c.ChMult);
        Assert.Equal((32, 1, 16), (c.Ch, c.NumResBlocks, c.ZChannels));
        Assert.Equal((0.3611, 0.1159, false, true, 2), (c.ScalingFactor, c.ShiftFactor, c.Deterministic, c.EncoderNorm, c.Psz));
    }

    [Fact]
    public void MissingFactorsTakeTheFeb2026DefaultsAndAreListed()
    {
        var c = LoadJson("""{"ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 16, "psz": null}""");
        Assert.Equal(["scaling_factor", "shift_factor", "deterministic", "encoder_norm", "psz"], c.DefaultedKeys);
        Assert.Equal((1.0, 0.0, true, true, 1), (c.ScalingFactor, c.ShiftFactor, c.Deterministic, c.EncoderNorm, c.Psz));
    }

    [Theory]
    [InlineData("""{"ch": 48}""", "divisible by 32")]
    [InlineData("""{"ch_mult": [1,1,1,1,1,1,1,1,1]}""", "out of the supported range")]
    [InlineData("""{"ch": 1000000}""", "out of the supported range")]
    [InlineData("""{"in_channels": 0}""", "out of the supported range")]
    public void ImplausibleSizesAreRefused(string json, string expected)
    {
        Assert.Contains(expected, Assert.Throws<NextStepException>(() => LoadJson(json)).Message);
    }
}
