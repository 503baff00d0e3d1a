using NextStep.Config;
using NextStep.Model;
using NextStep.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Model;

public class PatchifyTests
{
    private static readonly VaeConfig Vae = VaeConfig.Load(Fixtures.Path("tiny", "model", "vae", "config.json"));

    /// <summary>
    /// The pipeline's <c>latents</c> golden is <c>unpatchify(tokens) / scale + shift</c>, so the token layout
    /// (row-major grid, feature c·4 + py·2 + px) is pinned by the pair; t2i_wide is a 2×6 grid.
    /// </summary>
    [Theory]
    [InlineData("t2i_cfg", 4, 4)]
    [InlineData("t2i_wide", 2, 6)]
    public void UnpatchifyAndPatchifyMatchThePipelineGoldens(string pipeCase, int h, int w)
    {
        var model = TinyModel.Float32;
        using var tokens = TinyModel.Golden($"pipe.{pipeCase}.tokens");
        using var latents = TinyModel.Golden($"pipe.{pipeCase}.latents");
        using var unpatched = model.Unpatchify(tokens, h, w);
        using var decoded = unpatched / Vae.ScalingFactor + Vae.ShiftFactor;
        TensorAssert.Close(latents, decoded, atol: 1e-6, what: "unpatchify(tokens) / scale + shift");
        using var scaled = (latents - Vae.ShiftFactor) * Vae.ScalingFactor;
        using var patched = model.Patchify(scaled);
        TensorAssert.Close(tokens, patched, atol: 1e-6, what: "patchify((latents - shift) * scale)");
    }

    [Fact]
    public void RoundTripIsExactAndLayoutIsChannelMajorWithinAToken()
    {
        using var latents = arange(2 * 16 * 6 * 10, ScalarType.Float32).reshape(2, 16, 6, 10);
        using var tokens = NextStepModel.Patchify(latents, 2);
        Assert.Equal(new long[] { 2, 15, 64 }, tokens.shape);
        // token n = i·w + j holds latent[b, c, 2i+py, 2j+px] at feature c·4 + py·2 + px
        foreach (var (b, c, i, j, py, px) in new[] { (0, 0, 0, 0, 0, 0), (1, 7, 2, 4, 1, 0), (0, 15, 1, 3, 1, 1), (1, 3, 2, 0, 0, 1) })
            Assert.Equal(latents[b, c, 2 * i + py, 2 * j + px].item<float>(), tokens[b, i * 5 + j, c * 4 + py * 2 + px].item<float>());
        using var back = NextStepModel.Unpatchify(tokens, 3, 5, 16, 2);
        Assert.True(back.eq(latents).all().item<bool>());
    }

    [Fact]
    public void BadShapesAreErrors()
    {
        using var odd = zeros(1, 16, 5, 4);
        Assert.Throws<NextStepException>(() => NextStepModel.Patchify(odd, 2));
        using var tokens = zeros(1, 12, 64);
        var e = Assert.Throws<NextStepException>(() => NextStepModel.Unpatchify(tokens, 3, 5, 16, 2));
        Assert.Contains("[1, 12, 64]", e.Message);
    }
}
