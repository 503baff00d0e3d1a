using NextStep.Model;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace NextStep.Training;

/// <summary>The flow-matching noise and logit-normal time draws (injected by tests; drawn from a torch CPU generator otherwise).</summary>
public sealed record FlowMatchingDraws(Tensor Noise, Tensor U);

/// <summary>Everything the flow-matching loss computed: rows are token copies (each image's tokens tiled fm_head_batch_mul times).</summary>
public sealed record FlowMatchingResult(Tensor Loss, Tensor Cond, Tensor Target, Tensor Noise, Tensor T, Tensor VPred, Tensor RowLoss);

/// <summary>Total loss = lm_weight·CE + im_weight·FM, with the parts it was made of.</summary>
public sealed record TrainingLoss(Tensor Loss, Tensor LmLoss, Tensor ImageLoss, FlowMatchingResult FlowMatching);

/// <summary>
/// The NextStep training objective, as the Feb-2026 official code computes it. Hidden states h[:, :-1] predict
/// position +1. A position whose next token is an image placeholder conditions the flow-matching head (BOI predicts
/// image token 0, placeholder i predicts token i+1); every other position is a text (cross-entropy) position with target
/// labels[:, 1:] (−100 ignored).
/// </summary>
public static class Losses
{
    public const long IgnoreIndex = -100;

    /// <summary>[B, L−1]: true where the next token is a placeholder (the flow-matching condition positions).</summary>
    public static Tensor FmConditionMask(Tensor inputIds, long placeholderId)
    {
        using var next = inputIds[.., 1..];
        using Scalar placeholder = placeholderId; // held until the call returns (see AdamW.Update)
        return next.eq(placeholder);
    }

    /// <summary>Mean cross-entropy over the non-ignored targets at the text positions, on float32 logits over the full vocabulary.</summary>
    public static Tensor TextCrossEntropy(Tensor hidden, Tensor labels, Tensor fmConditionMask, Func<Tensor, Tensor> lmHead)
    {
        using var scope = NewDisposeScope();
        var textPositions = fmConditionMask.logical_not();
        var states = hidden[.., ..^1][textPositions];
        var targets = labels[.., 1..][textPositions].to_type(ScalarType.Int64);
        var logits = lmHead(states).to_type(ScalarType.Float32);
        using Scalar ignored = IgnoreIndex; // held until the call returns (see AdamW.Update)
        if (targets.ne(ignored).sum().item<long>() == 0)
        {
            using Scalar zero = 0;
            return (logits.sum() * zero).MoveToOuterDisposeScope();
        }
        return cross_entropy(logits, targets, ignore_index: IgnoreIndex).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The condition vectors of every image, in batch order: the hidden states at the condition positions, split per
    /// image by its token count.
    /// </summary>
    public static Tensor[] ConditionStates(Tensor hidden, Tensor fmConditionMask, IReadOnlyList<long> tokensPerImage)
    {
        using var states = hidden[.., ..^1][fmConditionMask];
        long total = tokensPerImage.Sum();
        if (states.shape[0] != total)
            throw new NextStepException($"the batch has {states.shape[0]} image-token positions but its images have {total} tokens");
        return states.split(tokensPerImage.ToArray(), 0);
    }

    /// <summary>
    /// Flow-matching loss over the selected images (<paramref name="withLoss"/>[i] ≠ 0). Each selected image's
    /// condition z = out_projector(h) and clean tokens x1 are tiled <paramref name="batchMul"/> times (whole token
    /// sequence, consecutively); per row ε ~ N(0, 1), u ~ N(0, 1), t = sigmoid(u); x_t = t·x1 + (1 − t)·ε; the loss
    /// is the mean over rows of mean_features((net(x_t, t, z) − (x1 − ε))²).
    /// </summary>
    public static FlowMatchingResult FlowMatching(
        IReadOnlyList<Tensor> conditionStates, IReadOnlyList<Tensor> targetTokens, IReadOnlyList<bool> withLoss, int batchMul,
        Func<Tensor, Tensor> outProjector, Func<Tensor, Tensor, Tensor, Tensor> velocityNet, FlowMatchingDraws? draws = null, Generator? generator = null)
    {
        if (conditionStates.Count != targetTokens.Count || withLoss.Count != targetTokens.Count)
            throw new NextStepException($"flow matching: {conditionStates.Count} condition sets, {targetTokens.Count} images and {withLoss.Count} image_filtered_idx entries must agree");
        using var scope = NewDisposeScope();
        var selected = Enumerable.Range(0, targetTokens.Count).Where(i => withLoss[i]).ToList();
        if (selected.Count == 0)
            throw new NextStepException("flow matching: the batch has no image with image_filtered_idx = 1");
        Tensor cond, target;
        long tokens = targetTokens[selected[0]].shape[0];
        if (selected.All(i => targetTokens[i].shape[0] == tokens && conditionStates[i].shape[0] == tokens))
        {
            // Images of one token count (the usual batch): one projection and one tiling for all of them, the same rows
            // in the same order as the per-image path below, in a handful of operations instead of several per image.
            long n = selected.Count;
            var projected = outProjector(cat(selected.Select(i => conditionStates[i]).ToArray(), 0));
            cond = Tile(projected.reshape(n, 1, tokens, -1), batchMul);
            target = Tile(stack(selected.Select(i => targetTokens[i].detach()).ToArray(), 0).unsqueeze(1), batchMul);
        }
        else
        {
            cond = cat(selected.Select(i => outProjector(conditionStates[i]).repeat(batchMul, 1)).ToArray(), 0);
            target = cat(selected.Select(i => targetTokens[i].detach().repeat(batchMul, 1)).ToArray(), 0);
        }
        long rows = target.shape[0];
        var noise = draws?.Noise ?? randn(target.shape, target.dtype, target.device, generator: generator);
        var u = draws?.U ?? randn([rows], device: target.device, generator: generator); // what normal(0, 1) draws, without its ·1 + 0
        if (!noise.shape.SequenceEqual(target.shape) || u.shape.Length != 1 || u.shape[0] != rows)
            throw new NextStepException($"flow matching: injected noise [{string.Join(",", noise.shape)}] / u [{string.Join(",", u.shape)}] do not fit {rows} rows of width {target.shape[1]}");
        var t = torch.sigmoid(u).to_type(target.dtype);
        var tColumn = t.unsqueeze(1);
        using Scalar one = 1; // held while libtorch reads it (see AdamW.Update)
        var xt = Held.Add(tColumn * target, Held.Sub(one, tColumn) * noise);
        var vPred = velocityNet(xt, t, cond);
        var rowLoss = Held.Square(vPred.to_type(ScalarType.Float32) - (target - noise).to_type(ScalarType.Float32)).mean([-1]);
        var loss = rowLoss.mean();
        var result = new FlowMatchingResult(loss, cond, target, noise, t, vPred, rowLoss);
        foreach (var x in new[] { loss, cond, target, noise, t, vPred, rowLoss }) x.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>[N, 1, T, D] → [N·copies·T, D]: each image's T rows repeated <paramref name="copies"/> times, image after image (what Tensor.repeat(copies, 1) of each image's rows, concatenated, gives).</summary>
    private static Tensor Tile(Tensor perImage, int copies)
    {
        long n = perImage.shape[0], t = perImage.shape[2], d = perImage.shape[3];
        return perImage.expand(n, copies, t, d).reshape(n * copies * t, d);
    }

    /// <summary>
    /// The official optional input noise (<c>noise_strength</c>): each latent [C, H, W] gets ε·s_p with ε ~ N(0, 1) and
    /// s_p rising linearly from 0 to <paramref name="strength"/> over the H·W latent pixels in raster order. Latents of
    /// one shape are drawn in one call (as the official code does for a batch tensor), others one by one (its list case).
    /// </summary>
    public static IReadOnlyList<Tensor> InputNoise(IReadOnlyList<Tensor> latents, double strength, Generator? generator = null)
    {
        if (strength == 0 || latents.Count == 0) return latents;
        using var scope = NewDisposeScope();
        Tensor Ramp(Tensor z) => linspace(0, strength, z.shape[1] * z.shape[2], z.dtype, z.device).view(1, z.shape[1], z.shape[2]);
        Tensor[] noisy;
        if (latents.All(z => z.shape.SequenceEqual(latents[0].shape)))
        {
            var stacked = stack(latents.ToArray(), 0);
            var eps = randn(stacked.shape, stacked.dtype, stacked.device, generator: generator);
            noisy = Held.Add(stacked, eps * Ramp(latents[0])).unbind(0);
        }
        else
            noisy = latents.Select(z => Held.Add(z, randn(z.shape, z.dtype, z.device, generator: generator) * Ramp(z))).ToArray();
        foreach (var z in noisy) z.MoveToOuterDisposeScope();
        return noisy;
    }

    /// <summary>loss = lmWeight·CE + imWeight·FM.</summary>
    public static TrainingLoss Total(Tensor lmLoss, FlowMatchingResult fm, double lmWeight, double imWeight)
    {
        using Scalar lm = lmWeight, im = imWeight; // held until the calls return (see AdamW.Update)
        return new(Held.Add(lmLoss * lm, fm.Loss * im), lmLoss, fm.Loss, fm);
    }
}
