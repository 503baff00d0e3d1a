using NextStep.Config;
using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>
/// One packed training batch: ids, labels (−100 = ignored) [B, L], the latents of its images in placeholder order
/// (each [C, H, W]; (z − shift)·scale already applied) and which images carry flow-matching loss.
/// </summary>
public sealed record TrainingBatch(Tensor InputIds, Tensor Labels, IReadOnlyList<Tensor> Latents, IReadOnlyList<bool> ImageFilteredIdx);

/// <summary>The training forward of <see cref="NextStepModel"/>: embeddings with projected image tokens, the causal backbone over the whole packed row, then <see cref="Losses"/>.</summary>
public static class Objective
{
    /// <summary>The log line that says the config noises the input latents (official <c>noise_strength</c>), or null when it does not.</summary>
    public static string? InputNoiseNote(NextStepConfig c) =>
        c.NoiseStrength > 0 ? $"input noise: noise_strength {c.NoiseStrength} (config.json); the image loss is on noised input latents" : null;

    /// <summary>
    /// Computes the official loss of <paramref name="batch"/>; <paramref name="hidden"/> receives the final-normed hidden
    /// states [B, L, H]. Flow-matching draws are injected, or drawn from <paramref name="generator"/> (default: torch's global one),
    /// as is the input-latent noise when the config's <c>noise_strength</c> is above 0 (drawn first, as in the official forward),
    /// and then, with <paramref name="selfInputs"/>, the model's own samples of some input tokens (<see cref="SelfInputs"/>).
    /// </summary>
    public static TrainingLoss Compute(NextStepModel model, TrainingBatch batch, out Tensor hidden, FlowMatchingDraws? draws = null,
        Generator? generator = null, double? lmLossWeight = null, double? imageLossWeight = null, SelfInputs? selfInputs = null)
    {
        var c = model.Config;
        using var scope = NewDisposeScope();
        var tokens = PatchifyEach(model, batch.Latents);
        // The backbone reads (optionally noised) input latents; the flow-matching targets stay clean.
        IReadOnlyList<Tensor> inputs = c.NoiseStrength > 0 ? PatchifyEach(model, Losses.InputNoise(batch.Latents, c.NoiseStrength, generator)) : tokens;
        if (selfInputs is not null) inputs = selfInputs.Mix(model, batch.InputIds, tokens, inputs, generator);
        var embeds = model.Embed(batch.InputIds, inputs.Count == 0 ? null : cat(inputs.ToArray(), 0));
        var h = model.Forward(embeds, null, null);
        var mask = Losses.FmConditionMask(batch.InputIds, c.ImagePlaceholderId);
        var ce = Losses.TextCrossEntropy(h, batch.Labels, mask, model.Logits);
        var states = Losses.ConditionStates(h, mask, tokens.Select(t => t.shape[0]).ToList());
        var fm = Losses.FlowMatching(states, tokens, batch.ImageFilteredIdx, c.FmHeadBatchMul,
            model.ImageOutProjector.forward, model.Head.forward, draws, generator);
        var total = Losses.Total(ce, fm, lmLossWeight ?? c.LmLossWeight, imageLossWeight ?? c.ImLossWeight);
        foreach (var t in new[] { total.Loss, total.LmLoss, fm.Loss, fm.Cond, fm.Target, fm.Noise, fm.T, fm.VPred, fm.RowLoss, h })
            t.MoveToOuterDisposeScope();
        hidden = h;
        return total;
    }

    /// <summary>Each latent [C, H, W] as its tokens [h·w, C·p²]; latents of one shape are patchified in one call.</summary>
    internal static List<Tensor> PatchifyEach(NextStepModel model, IReadOnlyList<Tensor> latents) =>
        latents.Count > 1 && latents.All(z => z.shape.SequenceEqual(latents[0].shape))
            ? model.Patchify(stack(latents.ToArray(), 0)).unbind(0).ToList()
            : latents.Select(z => model.Patchify(z.unsqueeze(0)).squeeze(0)).ToList();

    /// <summary>
    /// The official embedding has <c>padding_idx = pad_token_id</c> (when the config sets one): that row gets no
    /// gradient. Call after backward.
    /// </summary>
    public static void ClearPaddingGradient(NextStepModel model)
    {
        if (model.Config.PadTokenId is not { } pad) return;
        using var scope = NewDisposeScope();
        var weight = model.named_parameters().First(p => p.name == "embed_tokens.weight").parameter;
        using var g = weight.grad;
        if (g is null) return;
        using var _ = no_grad();
        using var row = g[pad];
        row.zero_();
    }

    /// <summary>Makes every parameter trainable (the model loads frozen).</summary>
    public static void EnableTraining(NextStepModel model)
    {
        foreach (var (_, p) in model.named_parameters()) p.requires_grad = true;
        model.train();
    }
}
