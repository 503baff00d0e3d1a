using NextStep.Model;
using NextStep.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Model;

public class EmbedTests
{
    /// <summary>
    /// Edit prefill: the placeholders of rows 0 and 1 take <c>image_in_projector(patchify(image_latents))</c>
    /// (image 0's tokens in row 0, image 1's in row 1); last hidden state and head condition against the goldens.
    /// </summary>
    [Theory]
    [InlineData("edit", true)]
    [InlineData("t2i_cfg", false)]
    [InlineData("t2i_wide", false)]
    public void PrefillLastHiddenAndConditionMatchThePipelineGoldens(string pipeCase, bool hasImages)
    {
        using var _ = no_grad();
        var model = TinyModel.Float32;
        using var ids = TinyModel.Golden($"pipe.{pipeCase}.input_ids");
        using var mask = TinyModel.Golden($"pipe.{pipeCase}.attention_mask");
        using var tokens = hasImages ? model.Patchify(TinyModel.Golden($"pipe.{pipeCase}.image_latents")) : null;
        using var cache = model.NewCache((int)ids.shape[0], (int)ids.shape[1] + 1);
        using var embeds = model.Embed(ids, tokens);
        using var hidden = model.Prefill(embeds, mask, cache);
        using var last = hidden[.., ^1..];
        TensorAssert.Close(TinyModel.Golden($"pipe.{pipeCase}.prefill_last_hidden"), last, atol: 2e-5, what: "prefill last hidden");
        using var cond = model.ImageOutProjector.forward(last.squeeze(1));
        TensorAssert.Close(TinyModel.Golden($"pipe.{pipeCase}.step0_cond"), cond, atol: 2e-5, what: "step0 condition");
    }

    [Fact]
    public void PlaceholderCountMismatchIsAnError()
    {
        var model = TinyModel.Float32;
        using var ids = TinyModel.Golden("pipe.edit.input_ids");
        using var latents = TinyModel.Golden("pipe.edit.image_latents");
        using var oneImage = model.Patchify(latents[..1]);
        var e = Assert.Throws<NextStepException>(() => model.Embed(ids, oneImage));
        Assert.Contains("32 image placeholder tokens", e.Message);
        Assert.Contains("16 image tokens", e.Message);
        Assert.Throws<NextStepException>(() => model.Embed(ids));
    }
}
