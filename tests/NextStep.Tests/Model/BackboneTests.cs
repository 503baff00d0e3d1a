using System.Text.Json;
using NextStep.Model;
using NextStep.Tests.Support;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Model;

public class BackboneTests
{
    private const int DecodeSteps = 3;

    /// <summary>
    /// The golden backbone case: prefill of the two left-padded prompts into a cache sized for three more
    /// positions, then three cached decode steps fed with the recorded embeddings; logits of the last step.
    /// </summary>
    private static (Tensor Prefill, Tensor[] Steps, Tensor Logits) Run(NextStepModel model)
    {
        using var ids = TinyModel.Golden("backbone.input_ids");
        using var mask = TinyModel.Golden("backbone.attention_mask");
        using var cache = model.NewCache((int)ids.shape[0], (int)ids.shape[1] + DecodeSteps);
        using var embeds = model.Embed(ids);
        var prefill = model.Prefill(embeds, mask, cache).to_type(ScalarType.Float32);
        Assert.Equal(ids.shape[1], cache.Length);
        var steps = new Tensor[DecodeSteps];
        for (int i = 0; i < DecodeSteps; i++)
        {
            using var e = TinyModel.Golden($"backbone.step{i}.inputs_embeds");
            using var cast = e.to_type(model.DType);
            using var h = model.DecodeStep(cast, cache);
            steps[i] = h.to_type(ScalarType.Float32);
        }
        Assert.Equal(ids.shape[1] + DecodeSteps, cache.Length);
        using var last = steps[^1].to_type(model.DType);
        using var logits = model.Logits(last);
        return (prefill, steps, logits.squeeze(1).to_type(ScalarType.Float32));
    }

    /// <summary>Hidden states at real (mask 1) positions only: pad queries are not meaningful (fixtures README).</summary>
    private static Tensor RealPositions(Tensor hidden) => hidden.index(TinyModel.Golden("backbone.attention_mask").to_type(ScalarType.Bool));

    private static void AssertMatchesGoldens(NextStepModel model, double atol, double rtol)
    {
        using var _ = no_grad();
        var (prefill, steps, logits) = Run(model);
        TensorAssert.Close(RealPositions(TinyModel.Golden("backbone.prefill_hidden")), RealPositions(prefill), atol, rtol, "prefill hidden");
        for (int i = 0; i < DecodeSteps; i++)
            TensorAssert.Close(TinyModel.Golden($"backbone.step{i}.hidden"), steps[i], atol, rtol, $"decode step {i} hidden");
        TensorAssert.Close(TinyModel.Golden("backbone.lm_logits_last"), logits, atol, rtol, "lm logits");
    }

    [Fact]
    public void Float32PrefillCachedDecodeAndLogitsMatchGoldens() => AssertMatchesGoldens(TinyModel.Float32, atol: 2e-5, rtol: 0);

    /// <summary>bf16 inference runs end to end and stays near the float32 goldens (bf16 has ~3 significant digits).</summary>
    [Fact]
    public void BFloat16PrefillAndDecodeStayCloseToGoldens() => AssertMatchesGoldens(TinyModel.BFloat16, atol: 0, rtol: 0.05);

    [Fact]
    public void PadPositionsOfThePromptStayMaskedForLaterTokens()
    {
        // Row 1 ("photo") is mostly left padding; running it alone without its pads must give the same hidden
        // states for its real tokens and for a later decode step (positions differ, RoPE is relative).
        using var _ = no_grad();
        var model = TinyModel.Float32;
        using var ids = TinyModel.Golden("backbone.input_ids");
        using var mask = TinyModel.Golden("backbone.attention_mask");
        long pads = ids.shape[1] - mask[1].sum().item<long>();
        using var realIds = ids[1..2, (int)pads..];
        using var cache = model.NewCache(1, (int)realIds.shape[1] + 1);
        using var h = model.Prefill(model.Embed(realIds), ones_like(realIds), cache);
        using var step0 = TinyModel.Golden("backbone.step0.inputs_embeds");
        using var d = model.DecodeStep(step0[1..2], cache);
        TensorAssert.Close(TinyModel.Golden("backbone.prefill_hidden")[1..2, (int)pads..], h, atol: 2e-5, what: "unpadded prefill");
        TensorAssert.Close(TinyModel.Golden("backbone.step0.hidden")[1..2], d, atol: 2e-5, what: "unpadded decode");
    }

    [Fact]
    public void UncachedForwardEqualsCachedPrefill()
    {
        using var _ = no_grad();
        var model = TinyModel.Float32;
        using var ids = TinyModel.Golden("backbone.input_ids");
        using var mask = TinyModel.Golden("backbone.attention_mask");
        using var h = model.Forward(model.Embed(ids), mask, null);
        TensorAssert.Close(RealPositions(TinyModel.Golden("backbone.prefill_hidden")), RealPositions(h), atol: 2e-5, what: "uncached forward");
    }

    [Fact]
    public void CacheOverflowIsAnError()
    {
        using var _ = no_grad();
        var model = TinyModel.Float32;
        using var ids = TinyModel.Golden("backbone.input_ids");
        using var cache = model.NewCache(2, 4);
        var e = Assert.Throws<NextStepException>(() => model.Prefill(model.Embed(ids), TinyModel.Golden("backbone.attention_mask"), cache));
        Assert.Contains("capacity 4", e.Message);
    }

    [Fact]
    public void Bf16RoundedInvFreqEqualsTheTrainingRecord()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("training", "cases.json")));
        var expected = doc.RootElement.GetProperty("settings").GetProperty("rope_inv_freq").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var c = TinyModel.Float32.Config;
        var rope = new RotaryEmbedding(c.HeadDim, c.RopeTheta, ScalarType.BFloat16, CPU);
        Assert.Equal(expected, rope.InvFreq.data<float>().ToArray());
        var plain = new RotaryEmbedding(c.HeadDim, c.RopeTheta, ScalarType.Float32, CPU);
        Assert.NotEqual(expected, plain.InvFreq.data<float>().ToArray());
    }
}
