using NextStep.Model;
using NextStep.Pipeline;
using NextStep.Training.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>Settings of <see cref="MatchHeadTrainer.Train"/>; the defaults trained the head of docs/DEFAULT_MODEL.md, step 35.</summary>
public sealed record MatchHeadTrainingOptions
{
    public int Steps { get; init; } = 2500;
    /// <summary>Scene pairs (a scene and its near miss) per step; each gives five judged rows.</summary>
    public int PairsPerStep { get; init; } = 32;
    /// <summary>Scene pairs rendered and read through the VAE encoder once, before training.</summary>
    public int PoolPairs { get; init; } = 4000;
    public double LearningRate { get; init; } = 1e-3;
    public int WarmupSteps { get; init; } = 200;
    public long Seed { get; init; } = 11;
    public MatchHeadConfig? Config { get; init; }
    /// <summary>Every this many steps, the head so far is handed to the snapshot callback (0 = never).</summary>
    public int SnapshotEvery { get; init; }

    public MatchHeadTrainingOptions Validate()
    {
        if (Steps < 1 || PairsPerStep < 1 || PoolPairs < 1 || WarmupSteps < 0 || SnapshotEvery < 0 || !(LearningRate > 0))
            throw new NextStepException($"match head training: expected steps, pairs per step and pool pairs ≥ 1, warm-up ≥ 0 and a positive learning rate (got {Steps}, {PairsPerStep}, {PoolPairs}, {WarmupSteps}, {LearningRate})");
        return this;
    }
}

/// <summary>
/// Trains a <see cref="MatchHead"/> on a frozen NextStep model: renderer scenes of the Shapes train split and their
/// near misses (<see cref="ShapesNearMiss"/>) are read through the VAE encoder, noised as the model's training noised
/// them, and read by the model in the drop-text order image → caption → EOS. Each pair gives five rows: each scene
/// with its own caption (the first re-worded), each with the other's caption, and the first with a fresh near-miss
/// caption; the label of every row is <see cref="ShapesJudge"/> on the scene's ground truth. Loss: binary
/// cross-entropy of the head's logit; AdamW (β 0.9/0.99, weight decay 0.01 in the official grouping: not on biases and
/// LayerNorms), linear warm-up, constant, then a cosine
/// decay over the last 40 % of the steps, clipping at 1.0.
/// </summary>
public static class MatchHeadTrainer
{
    public static MatchHead Train(NextStepModel model, AutoencoderKL vae, Tokenization.Qwen2Tokenizer tokenizer, MatchHeadTrainingOptions options, Action<int, double, double>? log = null, Action<int, MatchHead>? snapshot = null)
    {
        options.Validate();
        var c = model.Config;
        var sequences = new SequenceBuilder(tokenizer, c.Boi, c.Eoi, c.ImagePlaceholderId);
        int side = ShapesRenderer.DefaultSize / (vae.DownFactor * c.LatentPatchSize);
        var grid = new TokenGrid(side, side);
        torch.manual_seed(options.Seed);
        var rng = new Random((int)options.Seed);
        var pool = Enumerable.Range(0, options.PoolPairs).Select(_ => ShapesNearMiss.Pair(rng)).ToArray();
        var latents = EncodePool(vae, pool, model);
        var head = new MatchHead(options.Config ?? new MatchHeadConfig(c.HiddenSize + 1));
        head.train();
        var groups = ParameterGroups.Official(head, 0.01);
        using var optimizer = new AdamW(groups, beta1: 0.9, beta2: 0.99);
        using var noise = new Generator(unchecked((ulong)options.Seed), model.Device);
        for (int step = 1; step <= options.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var (captions, images, labels) = Rows(rng, pool, options.PairsPerStep);
            var (features, valid) = Features(model, sequences, grid, captions, latents.index_select(0, torch.tensor(images, device: latents.device)), noise);
            var logits = head.Forward(features, valid);
            var y = torch.tensor(labels, device: logits.device);
            var loss = nn.functional.binary_cross_entropy_with_logits(logits, y);
            optimizer.ZeroGrad();
            loss.backward();
            GradientClipping.Clip(groups, 1.0);
            optimizer.Update(LearningRate(options, step));
            using Scalar zero = 0.0; // held until the call returns (see AdamW.Update)
            double accuracy = logits.gt(zero).to_type(ScalarType.Float32).eq(y).to_type(ScalarType.Float32).mean().item<float>();
            log?.Invoke(step, loss.item<float>(), accuracy);
            if (options.SnapshotEvery > 0 && step % options.SnapshotEvery == 0 && step < options.Steps) snapshot?.Invoke(step, head);
        }
        head.eval();
        return head;
    }

    /// <summary>Warm-up to the peak, constant, then a cosine to 0 over the last 40 % of the steps.</summary>
    public static double LearningRate(MatchHeadTrainingOptions o, int step)
    {
        double warm = o.WarmupSteps == 0 ? 1 : Math.Min(1.0, step / (double)o.WarmupSteps), decayFrom = o.Steps * 0.6;
        double cosine = step > decayFrom ? 0.5 * (1 + Math.Cos(Math.PI * (step - decayFrom) / (o.Steps * 0.4))) : 1.0;
        return o.LearningRate * warm * cosine;
    }

    /// <summary>
    /// The judged rows of one step: for each drawn pair (a, b), a re-worded / b with their own captions, b's caption on
    /// a, a's on b, and a fresh near miss's caption on a (when one applies). Image indices point into the pool latents
    /// (2·pair, 2·pair + 1).
    /// </summary>
    public static (string[] Captions, long[] Images, float[] Labels) Rows(Random rng, IReadOnlyList<(ShapesScene Scene, ShapesScene NearMiss)> pool, int pairs = 32)
    {
        var captions = new List<string>(); var images = new List<long>(); var labels = new List<float>();
        void Add(ShapesSpec spec, string caption, ShapesScene scene, long image)
        {
            captions.Add(caption); images.Add(image); labels.Add(ShapesJudge.Judge(spec, scene).Correct ? 1f : 0f);
        }
        for (int p = 0; p < pairs; p++)
        {
            int k = rng.Next(pool.Count);
            var (a, b) = pool[k];
            Add(a.Spec, ShapesCaptions.Write(rng, a.Spec), a, 2 * k);
            Add(b.Spec, b.Caption, b, 2 * k + 1);
            Add(b.Spec, b.Caption, a, 2 * k);
            Add(a.Spec, a.Caption, b, 2 * k + 1);
            if (ShapesNearMiss.Change(rng, a.Spec) is { } spec && ShapesNearMiss.Drawable(spec)) Add(spec, ShapesCaptions.Write(rng, spec), a, 2 * k);
        }
        return ([.. captions], [.. images], [.. labels]);
    }

    /// <summary>
    /// <see cref="MatchHead.Features"/> of right-padded drop-text rows, one noise draw of the model's input noise per
    /// row, and the mask [R, S] of their real positions.
    /// </summary>
    public static (Tensor Features, Tensor Valid) Features(NextStepModel model, SequenceBuilder sequences, TokenGrid grid, IReadOnlyList<string> captions, Tensor latents, Generator noise)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var rows = captions.Select(caption => sequences.TextToImage(caption, 0, grid, imageFirst: true).InputIds).ToArray();
        int eoi = Array.LastIndexOf(rows[0], sequences.Eoi);
        if (rows.Any(r => Array.LastIndexOf(r, sequences.Eoi) != eoi)) throw new NextStepException("match head rows: the image block must end at the same position in every row");
        var ids = torch.tensor(SequenceBuilder.RightPadded(rows, SequenceBuilder.PadId(model.Config)), device: model.Device);
        long n = ids.shape[0], s = ids.shape[1];
        var lengths = torch.tensor(rows.Select(r => (long)r.Length).ToArray(), device: model.Device).unsqueeze(1);
        using Scalar first = 0L, end = s; // held until the call returns (see AdamW.Update)
        var positions = Held.Arange(first, end, ScalarType.Int64, model.Device).unsqueeze(0);
        var valid = positions.lt(lengths);
        var noisy = stack(Losses.InputNoise(latents.to(model.DType, model.Device).unbind(0), model.Config.NoiseStrength, noise).ToArray());
        var hidden = model.Forward(model.Embed(ids, model.Patchify(noisy)), null, null);
        // position j predicts token j + 1: real only while j + 1 is inside the row
        var logProbs = CaptionScorer.NextTokenLogProbs(model, hidden, ids, eoi) * positions[.., (eoi + 1)..].lt(lengths).to_type(ScalarType.Float32);
        var features = MatchHead.Features(hidden, logProbs, eoi);
        return (features.MoveToOuterDisposeScope(), valid.MoveToOuterDisposeScope());
    }

    /// <summary>Every pool image through the VAE encoder (posterior mean, normalised like training latents): [2·pairs, C, h, w].</summary>
    private static Tensor EncodePool(AutoencoderKL vae, IReadOnlyList<(ShapesScene Scene, ShapesScene NearMiss)> pool, NextStepModel model)
        => ShapesPipelineAdapter.EncodeInChunks(vae, pool.SelectMany(p => new[] { p.Scene, p.NearMiss }).Select(s => ShapesRenderer.Render(s)),
            mean => vae.NormalizeLatents(mean).to(model.DType, model.Device));
}
