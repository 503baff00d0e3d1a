using NextStep.Model;
using NextStep.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Training.Shapes;

/// <summary>Settings of <see cref="ShapesDetectorTrainer.Train"/>.</summary>
public sealed record ShapesDetectorTrainingOptions
{
    public int Steps { get; init; } = 3000;
    public int BatchSize { get; init; } = 64;
    /// <summary>Train-split scenes rendered and passed through the VAE once, before training.</summary>
    public int PoolScenes { get; init; } = 8000;
    /// <summary>Seed of the first pool scene (<see cref="ShapesSampler.Sample(int, ShapesSplit, ShapesMix?)"/>); the next ones follow.</summary>
    public int FirstScene { get; init; } = 7_000_000;
    /// <summary>Largest α of the noise z + α·ε added to each pool image's latent before decoding (α ~ U[0, max] per image).</summary>
    public double LatentNoise { get; init; } = 0.3;
    /// <summary>
    /// Fraction of objects drawn in a random colour instead of their palette colour (<see cref="ShapesRecolor"/>: never
    /// one that would read as a held-out pair), so that shapes are told apart whatever their colour; their colour is not
    /// a training target.
    /// </summary>
    public double Recolor { get; init; }
    public double LearningRate { get; init; } = 2e-3;
    public int WarmupSteps { get; init; } = 100;
    public long Seed { get; init; } = 21;
    public ShapesDetectorConfig? Config { get; init; }
    /// <summary>Every this many steps, the detector so far is handed to the snapshot callback (0 = never).</summary>
    public int SnapshotEvery { get; init; }

    public ShapesDetectorTrainingOptions Validate()
    {
        if (Steps < 1 || BatchSize < 1 || PoolScenes < 1 || FirstScene < 0 || WarmupSteps < 0 || SnapshotEvery < 0 || !(LearningRate > 0) || !(LatentNoise >= 0) || !(Recolor is >= 0 and <= 1))
            throw new NextStepException($"detector training: expected steps, batch and pool ≥ 1, first scene, warm-up and latent noise ≥ 0, a positive learning rate and a recolour fraction in [0, 1] (got {Steps}, {BatchSize}, {PoolScenes}, {FirstScene}, {WarmupSteps}, {LatentNoise}, {LearningRate}, {Recolor})");
        return this;
    }
}

/// <summary>One step's losses.</summary>
public sealed record ShapesDetectorLosses(double Total, double Heatmap, double Color, double Offset, double Background);

/// <summary>
/// Trains a <see cref="ShapesDetector"/> on renderer scenes of the Shapes train split (no held-out pair is ever drawn)
/// as the model's VAE gives them back: each scene is encoded, its latent noised by z + α·ε (α ~ U[0, max]), decoded and
/// rounded to 8 bits, so the detector reads pictures the way generated ones look. Labels are the renderer's ground
/// truth. Losses: CenterNet's focal loss on the per-shape heatmaps (a Gaussian around each object's centre cell),
/// cross-entropy of the colour at each centre cell, L1 of the centre's offset there, cross-entropy of the background;
/// pictures are mirrored left-right half of the time. AdamW (β 0.9/0.99, weight decay 0.01, official grouping), linear
/// warm-up, then a cosine to 0, clipping at 1.0.
/// </summary>
public static class ShapesDetectorTrainer
{
    public static ShapesDetector Train(AutoencoderKL vae, ShapesDetectorTrainingOptions options, Action<int, ShapesDetectorLosses>? log = null, Action<int, ShapesDetector>? snapshot = null, Action<int>? poolProgress = null)
    {
        options.Validate();
        torch.manual_seed(options.Seed);
        var scenes = Enumerable.Range(0, options.PoolScenes).Select(i => ShapesSampler.Sample(options.FirstScene + i, ShapesSplit.Train)).ToArray();
        var recolorRng = new Random((int)options.Seed + 1);
        var colors = scenes.Select(s => ShapesRecolor.Colors(s, recolorRng, options.Recolor)).ToArray();
        using var pool = SeenThroughVae(vae, scenes, options.LatentNoise, poolProgress, colors);
        var palette = scenes.Select((s, i) => s.Objects.Select((o, j) => colors[i][j] == ShapesVocabulary.Rgb(o.Color)).ToArray()).ToArray();
        var detector = new ShapesDetector(options.Config ?? ShapesDetectorConfig.Default);
        detector.train();
        var groups = ParameterGroups.Official(detector, 0.01);
        using var optimizer = new AdamW(groups, beta1: 0.9, beta2: 0.99);
        var rng = new Random((int)options.Seed);
        for (int step = 1; step <= options.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var picks = Enumerable.Range(0, options.BatchSize).Select(_ => (Index: rng.Next(scenes.Length), Mirror: rng.Next(2) == 1)).ToArray();
            var pixels = Batch(pool, picks);
            var targets = Targets(detector.Config, [.. picks.Select(p => p.Mirror ? Mirrored(scenes[p.Index]) : scenes[p.Index])], [.. picks.Select(p => palette[p.Index])]);
            var (cells, background) = detector.forward(pixels);
            var (loss, parts) = Loss(cells, background, targets);
            log?.Invoke(step, parts);
            optimizer.ZeroGrad();
            loss.backward();
            GradientClipping.Clip(groups, 1.0);
            optimizer.Update(LearningRate(options, step));
            if (options.SnapshotEvery > 0 && step % options.SnapshotEvery == 0 && step < options.Steps) snapshot?.Invoke(step, detector);
        }
        detector.eval();
        return detector;
    }

    /// <summary>Linear warm-up to the peak, then a cosine to 0 at the last step.</summary>
    public static double LearningRate(ShapesDetectorTrainingOptions o, int step)
    {
        if (step <= o.WarmupSteps) return o.LearningRate * step / Math.Max(1, o.WarmupSteps);
        double progress = (step - o.WarmupSteps) / (double)Math.Max(1, o.Steps - o.WarmupSteps);
        return o.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>
    /// The scenes rendered (each object in its colour of <paramref name="objectRgb"/> when given), encoded (posterior
    /// mean), noised, decoded and rounded to 8 bits: uint8 [N, 3, S, S].
    /// </summary>
    public static Tensor SeenThroughVae(AutoencoderKL vae, IReadOnlyList<ShapesScene> scenes, double latentNoise, Action<int>? progress = null, IReadOnlyList<IReadOnlyList<(byte R, byte G, byte B)>>? objectRgb = null)
    {
        int done = 0;
        return ShapesPipelineAdapter.EncodeInChunks(vae, scenes.Select((s, i) => ShapesRenderer.Render(s, objectRgb: objectRgb?[i])), mean =>
        {
            var alpha = rand([mean.shape[0], 1, 1, 1], mean.dtype, mean.device);
            using Scalar max = latentNoise;
            var decoded = Imaging.PixelTensors.ToUInt8(vae.Decode(Held.Add(mean, randn_like(mean).mul(alpha.mul(max)))));
            progress?.Invoke(done += (int)mean.shape[0]);
            return decoded;
        });
    }

    private static Tensor Batch(Tensor pool, (int Index, bool Mirror)[] picks)
    {
        using var scope = NewDisposeScope();
        var images = picks.Select(p => p.Mirror ? pool[p.Index].flip(2) : pool[p.Index]).ToArray();
        return Imaging.PixelTensors.FromUInt8(stack(images)).MoveToOuterDisposeScope();
    }

    /// <summary>The scene mirrored left-right (objects' boxes flipped; shapes are all left-right symmetric).</summary>
    public static ShapesScene Mirrored(ShapesScene scene)
        => scene with { Objects = [.. scene.Objects.Select(o => o with { X = 1 - o.X - o.Width })] };

    /// <summary>Training targets of a batch of scenes on the detector's grid.</summary>
    public sealed record DetectorTargets(Tensor Heatmap, Tensor CenterMask, Tensor Color, Tensor Offset, Tensor Background);

    /// <summary>
    /// Heatmap [B, shapes, G, G]: for each object, exp(−d²/2σ²) over cells d away from its centre cell (1 there),
    /// σ = size·G/6, the largest value where objects of a shape overlap; centre mask [B, G, G]; the centre cell's
    /// colour index [B, G, G] (−100 elsewhere, and for objects not in their palette colour: <paramref name="paletteColored"/>
    /// false) and offset inside the cell [B, 2, G, G]; background index [B].
    /// </summary>
    public static DetectorTargets Targets(ShapesDetectorConfig config, IReadOnlyList<ShapesScene> scenes, IReadOnlyList<bool[]>? paletteColored = null)
    {
        int g = config.GridSize, k = ShapesDetector.Shapes.Length, n = scenes.Count;
        var heat = new float[n * k * g * g];
        var mask = new bool[n * g * g];
        var color = Enumerable.Repeat(-100L, n * g * g).ToArray();
        var offset = new float[n * 2 * g * g];
        var background = new long[n];
        for (int b = 0; b < n; b++)
        {
            background[b] = Array.IndexOf(ShapesDetector.Backgrounds, scenes[b].Background);
            for (int j = 0; j < scenes[b].Objects.Count; j++)
            {
                var o = scenes[b].Objects[j];
                double fx = o.CenterX * g, fy = o.CenterY * g;
                int cx = Math.Clamp((int)fx, 0, g - 1), cy = Math.Clamp((int)fy, 0, g - 1), s = Array.IndexOf(ShapesDetector.Shapes, o.Shape);
                double sigma = Math.Max(0.5, Math.Max(o.Width, o.Height) * g / 6);
                for (int y = 0; y < g; y++)
                    for (int x = 0; x < g; x++)
                    {
                        int at = ((b * k + s) * g + y) * g + x;
                        heat[at] = Math.Max(heat[at], (float)Math.Exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * sigma * sigma)));
                    }
                int cell = (b * g + cy) * g + cx;
                mask[cell] = true;
                color[cell] = paletteColored is null || paletteColored[b][j] ? Array.IndexOf(ShapesDetector.Colors, o.Color) : -100;
                offset[((b * 2) * g + cy) * g + cx] = (float)(fx - cx);
                offset[((b * 2 + 1) * g + cy) * g + cx] = (float)(fy - cy);
            }
        }
        return new(tensor(heat, [n, k, g, g]), tensor(mask, [n, g, g]), tensor(color, [n, g, g]), tensor(offset, [n, 2, g, g]), tensor(background));
    }

    /// <summary>The summed loss and its parts (see the class summary).</summary>
    public static (Tensor Loss, ShapesDetectorLosses Parts) Loss(Tensor cells, Tensor background, DetectorTargets t)
    {
        int k = ShapesDetector.Shapes.Length, c = ShapesDetector.Colors.Length;
        using Scalar eps = 1e-4, oneMinusEps = 1 - 1e-4, one = 1.0, two = 2.0, four = 4.0, minusOne = -1.0;
        var p = cells[.., ..k].sigmoid().clamp(eps, oneMinusEps);
        var positive = t.Heatmap.eq(one).to_type(ScalarType.Float32);
        var negative = Held.Sub(one, positive);
        var oneMinusP = Held.Sub(one, p);
        var posTerm = p.log().mul(oneMinusP.pow(two)).mul(positive);
        var negTerm = oneMinusP.log().mul(p.pow(two)).mul(Held.Sub(one, t.Heatmap).pow(four)).mul(negative);
        using Scalar objects = Math.Max(1.0, t.CenterMask.sum().item<long>());
        var heatmap = Held.Add(posTerm.sum(), negTerm.sum()).mul(minusOne).div(objects);

        var colorLogits = cells[.., k..(k + c)];
        var color = nn.functional.cross_entropy(colorLogits, t.Color, ignore_index: -100);
        var centers = t.CenterMask.unsqueeze(1).to_type(ScalarType.Float32);
        var offset = nn.functional.l1_loss(cells[.., (k + c)..].sigmoid().mul(centers), t.Offset.mul(centers), reduction: nn.Reduction.Sum).div(objects);
        var bg = nn.functional.cross_entropy(background, t.Background);
        var total = Held.Add(Held.Add(heatmap, color), Held.Add(offset, bg));
        return (total, new(total.item<float>(), heatmap.item<float>(), color.item<float>(), offset.item<float>(), bg.item<float>()));
    }
}
