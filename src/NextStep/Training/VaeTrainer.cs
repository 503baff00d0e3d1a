using System.Diagnostics;
using NextStep.Config;
using NextStep.Imaging;
using NextStep.Loading;
using NextStep.Model;
using NextStep.Pipeline;
using NextStep.Training.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>Settings of <see cref="VaeTrainer.Train"/>.</summary>
public sealed record VaeTrainingOptions
{
    public int Steps { get; init; } = 1200;
    public int BatchSize { get; init; } = 16;
    /// <summary>Peak Adam learning rate: linear warm-up over <see cref="WarmupSteps"/>, then cosine decay to 10 %.</summary>
    public double LearningRate { get; init; } = 1.5e-3;
    public int WarmupSteps { get; init; } = 30;
    /// <summary>Wall-clock budget (null = none): the schedule runs on max(step fraction, time fraction) and stops at 1.</summary>
    public double? MaxMinutes { get; init; }
    /// <summary>Side of the random square crops trained on (a multiple of 16 below the image size; 0 = whole images).
    /// The VAE is convolutional apart from its mid attention, so crops teach the same maps at a fraction of the cost.</summary>
    public int CropSize { get; init; } = 32;
    /// <summary>Weight of the KL term (mean over latent elements) next to the reconstruction loss (MSE + L1, means over pixels).</summary>
    public double KlWeight { get; init; } = 1e-5;
    /// <summary>Seeds the weight init and the posterior noise.</summary>
    public long Seed { get; init; } = 0;
    /// <summary>The Shapes data set the images come from; scene i of step s is index
    /// <see cref="FirstImage"/> + s·batch + i of split <see cref="Split"/>.</summary>
    public int DataSeed { get; init; } = 1;
    /// <summary>The split the training scenes come from: <see cref="ShapesSplit.Train"/> (no held-out pair is ever drawn)
    /// or <see cref="ShapesSplit.All"/> (the whole Shapes world: a model evaluated on held-out pairs then uses a VAE
    /// that has seen them). The held-aside images for PSNR and the latent statistics are train-split scenes either way.</summary>
    public ShapesSplit Split { get; init; } = ShapesSplit.Train;
    /// <summary>Probability that a training object is drawn in a random colour instead of its palette colour
    /// (<see cref="ShapesRecolor"/>: never a held-out pair, never near the background); 0 = palette colours only.</summary>
    public double RecolorFraction { get; init; } = 0;
    /// <summary>Probability that a training scene also gets thin lines in any colour, apart from its objects
    /// (<see cref="ShapesStrokes"/>: fine edges in every colour, no held-out pair); 0 = none.</summary>
    public double StrokeFraction { get; init; } = 0;
    /// <summary>Probability that a training scene also gets spiky blots in any colour, apart from its objects and lines
    /// (<see cref="ShapesBurrs"/>: sharp points and notches in every colour, never five-pointed, no held-out pair); 0 = none.</summary>
    public double BurrFraction { get; init; } = 0;
    /// <summary>Index of the first training scene: a continued run (<see cref="InitFrom"/>) can start past the scenes
    /// earlier runs drew. The held-aside images (data seed + 1) do not move.</summary>
    public long FirstImage { get; init; } = 0;
    /// <summary>Images encoded to measure the latent statistics (shift and scaling factor).</summary>
    public int StatisticsImages { get; init; } = 256;
    /// <summary>A VAE folder to continue from (null = fresh weights). Typical: crops first (cheap), then whole images,
    /// because GroupNorm statistics over a crop differ from those over the whole image.</summary>
    public string? InitFrom { get; init; }
    /// <summary>Loss weight of the pixels that differ from the background (the shapes) relative to background pixels.</summary>
    public double ForegroundWeight { get; init; } = 10.0;
    /// <summary>Widens the weighted region by this many pixels around each shape (0 = the shape's own pixels only).
    /// Weighting only the shape pixels makes drawing too much cheaper than drawing too little, which fills the gaps
    /// between the arms of crosses and stars; a band around the edge weights both kinds of error alike.</summary>
    public int ForegroundDilation { get; init; } = 0;
    /// <summary>γ of the tokenizer noise the paper adds in training: z + α·ε, α ~ U[0, γ] per image (0 = none).</summary>
    public double LatentNoise { get; init; } = 0.0;
    /// <summary>Every this many steps the weights so far are written to <see cref="SaveTo"/> (0 = only at the end, by the caller).</summary>
    public int SaveEvery { get; init; } = 0;
    public string? SaveTo { get; init; }
    /// <summary>Train the decoder only (needs <see cref="InitFrom"/>): latents, and so the latent scaling and any model
    /// trained on them, stay exactly as they were, so a generator can train on them while the decoder improves.</summary>
    public bool FreezeEncoder { get; init; }
    /// <summary>Decode some tokens as a trained generator redraws them (<see cref="Training.GeneratorRedraw"/>; needs
    /// <see cref="FreezeEncoder"/>, whole images and palette colours, which the captions name); null = off.</summary>
    public GeneratorRedrawOptions? GeneratorRedraw { get; init; }
}

/// <summary>What one VAE training run produced: the model (its config carries the measured latent scaling), losses and PSNR;
/// <see cref="SkippedSteps"/> counts the steps whose gradients were not finite and were therefore not applied.</summary>
public sealed record VaeTrainingResult(AutoencoderKL Vae, VaeConfig Config, IReadOnlyList<double> Losses, double Psnr, TimeSpan Elapsed, int SkippedSteps = 0);

/// <summary>
/// Trains the FLUX-style VAE (<see cref="AutoencoderKL"/>) on Shapes images: MSE + L1 reconstruction of a posterior sample plus a
/// small KL term, Adam. Afterwards the posterior samples of held-aside images give <c>shift_factor</c> (their mean) and
/// <c>scaling_factor</c> (1 / their standard deviation), so that model latents have about zero mean and unit variance,
/// as FLUX's factors do for its VAE.
/// </summary>
public static class VaeTrainer
{
    public const double InitialLogvar = -8.0;

    /// <summary>
    /// The small VAE of the default model: f8, 16 latent channels, per-2×2-patch LayerNorm (as NextStep's VAE), widths
    /// 64/64/128/128. Not narrower: every norm is GroupNorm with 32 groups, and at 32 channels that is a per-channel
    /// instance norm, after which the decoder cannot tell a uniform gray, white or black background apart.
    /// </summary>
    public static VaeConfig SmallConfig => new()
    {
        Resolution = ShapesRenderer.DefaultSize,
        Ch = 64,
        ChMult = [1, 1, 2, 2],
        NumResBlocks = 1,
        ZChannels = 16,
        EncoderNorm = true,
        Psz = 2,
    };

    /// <summary>Training scenes <paramref name="start"/>… (<see cref="VaeTrainingOptions.Split"/>), with
    /// <see cref="VaeTrainingOptions.RecolorFraction"/> of their objects in random colours (chosen per scene, from the
    /// scene's index, so a run is reproducible), as pixels [count, 3, size, size] in [−1, 1].</summary>
    public static Tensor TrainingPixels(VaeTrainingOptions options, long start, int count, int size)
    {
        var scenes = TrainingScenes(options, start, count);
        return TrainingPixels(scenes, TrainingColors(options, start, scenes), TrainingMarks(options, start, scenes), size);
    }

    /// <summary>Scenes <paramref name="start"/>… of the training split, as <see cref="TrainingPixels(VaeTrainingOptions, long, int, int)"/> draws them.</summary>
    public static IReadOnlyList<ShapesScene> TrainingScenes(VaeTrainingOptions options, long start, int count)
        => Enumerable.Range(0, count).Select(i => ShapesDataset.Scene(options.DataSeed, start + i, options.Split)).ToList();

    private static Tensor TrainingPixels(IReadOnlyList<ShapesScene> scenes, IReadOnlyList<IReadOnlyList<(byte R, byte G, byte B)>?> colors,
        IReadOnlyList<IReadOnlyList<ShapesMark>> marks, int size)
        => Stacked(Enumerable.Range(0, scenes.Count).AsParallel().AsOrdered().Select(i =>
        {
            var image = ShapesRenderer.Render(scenes[i], size, size, colors[i]);
            ShapesMarks.Draw(image, marks[i]);
            return image;
        }));

    /// <summary>The lines (<see cref="ShapesStrokes"/>) and then blots (<see cref="ShapesBurrs"/>) drawn over scenes
    /// <paramref name="start"/>…, each chosen from the scene's index with a generator of its own, so a run is
    /// reproducible and the lines do not depend on whether blots are drawn; empty for a scene without.</summary>
    private static IReadOnlyList<IReadOnlyList<ShapesMark>> TrainingMarks(VaeTrainingOptions options, long start, IReadOnlyList<ShapesScene> scenes)
        => scenes.Select((scene, i) =>
        {
            var marks = new List<ShapesMark>();
            if (options.StrokeFraction > 0)
            {
                var rng = new Random(ShapesDataset.SceneSeed(options.DataSeed + StrokeSeedOffset, start + i));
                if (rng.NextDouble() < options.StrokeFraction) marks.AddRange(ShapesStrokes.Strokes(scene, rng));
            }
            if (options.BurrFraction > 0)
            {
                var rng = new Random(ShapesDataset.SceneSeed(options.DataSeed + BurrSeedOffset, start + i));
                if (rng.NextDouble() < options.BurrFraction) marks.AddRange(ShapesBurrs.Burrs(scene, rng, marks));
            }
            return (IReadOnlyList<ShapesMark>)marks;
        }).ToList();

    /// <summary>The object colours of scenes <paramref name="start"/>… (<see cref="ShapesRecolor.Colors"/>, chosen from
    /// each scene's index so a run is reproducible); null for a scene in palette colours when nothing is recoloured.</summary>
    private static IReadOnlyList<IReadOnlyList<(byte R, byte G, byte B)>?> TrainingColors(VaeTrainingOptions options, long start, IReadOnlyList<ShapesScene> scenes)
        => scenes.Select((scene, i) => options.RecolorFraction > 0
            ? ShapesRecolor.Colors(scene, new Random(ShapesDataset.SceneSeed(options.DataSeed + RecolorSeedOffset, start + i)), options.RecolorFraction)
            : null).ToList();

    /// <summary>
    /// The captions a generator redraws the scenes' tokens from: a scene's own caption where every object has its
    /// palette colour and no mark (line or blot) was drawn (the caption describes the pixels), null otherwise (its tokens are kept).
    /// </summary>
    public static IReadOnlyList<string?> RedrawCaptions(IReadOnlyList<ShapesScene> scenes, IReadOnlyList<IReadOnlyList<(byte R, byte G, byte B)>?> colors,
        IReadOnlyList<IReadOnlyList<ShapesMark>>? marks = null)
        => scenes.Select((scene, i) => (colors[i] is not { } c || scene.Objects.Select(o => ShapesVocabulary.Rgb(o.Color)).SequenceEqual(c))
            && (marks is null || marks[i].Count == 0) ? scene.Caption : null).ToList();

    private const int RecolorSeedOffset = 7919, StrokeSeedOffset = 104729, BurrSeedOffset = 1299709;

    /// <summary>Scenes <paramref name="start"/>… of the Shapes train split rendered at <paramref name="size"/>, as pixels [count, 3, size, size] in [−1, 1].</summary>
    public static Tensor ShapesPixels(int dataSeed, long start, int count, int size)
        => ScenePixels(Enumerable.Range(0, count).Select(i => ShapesDataset.Scene(dataSeed, start + i, ShapesSplit.Train)), size);

    /// <summary>Scenes rendered at <paramref name="size"/>, as pixels [count, 3, size, size] in [−1, 1].</summary>
    public static Tensor ScenePixels(IEnumerable<ShapesScene> scenes, int size)
        => Stacked(scenes.AsParallel().AsOrdered().Select(scene => ShapesRenderer.Render(scene, size, size)));

    /// <summary>Images drawn on all cores (each on its own surface), in order, as pixels [count, 3, H, W] in [−1, 1]; the
    /// tensors are made on this thread, in its scope.</summary>
    private static Tensor Stacked(ParallelQuery<RgbImage> images) => NextStepPipeline.ToPixels(images.ToArray());

    public static VaeTrainingResult Train(VaeConfig config, VaeTrainingOptions options, Action<int, double>? progress = null)
    {
        if (options.Steps < 1 || options.BatchSize < 1) throw new NextStepException($"VAE training: steps {options.Steps} and batch size {options.BatchSize} must be at least 1");
        if (options.FirstImage < 0) throw new NextStepException($"VAE training: first image {options.FirstImage} must be 0 or more");
        if (options.Split is not (ShapesSplit.Train or ShapesSplit.All)) throw new NextStepException($"VAE training: split {options.Split} is not a training split (expected Train or All)");
        if (!(options.RecolorFraction >= 0 && options.RecolorFraction <= 1)) throw new NextStepException($"VAE training: recolour fraction {options.RecolorFraction} must be a probability in [0, 1]");
        if (!(options.StrokeFraction >= 0 && options.StrokeFraction <= 1)) throw new NextStepException($"VAE training: stroke fraction {options.StrokeFraction} must be a probability in [0, 1]");
        if (!(options.BurrFraction >= 0 && options.BurrFraction <= 1)) throw new NextStepException($"VAE training: burr fraction {options.BurrFraction} must be a probability in [0, 1]");
        if (options.GeneratorRedraw is not null && !(options.FreezeEncoder && options.CropSize == 0))
            throw new NextStepException("VAE training: generator redraws need a frozen encoder (the generator's latents) and whole images (crop 0), as the captions describe");
        var clock = Stopwatch.StartNew();
        manual_seed(options.Seed);
        using var redraw = options.GeneratorRedraw is { } g ? new GeneratorRedraw(g) : null;
        var vae = options.InitFrom is { } init ? AutoencoderKL.Load(init) : AutoencoderKL.Initialise(config);
        if (options.InitFrom is not null) config = vae.Config;
        if (options.FreezeEncoder && options.InitFrom is null) throw new NextStepException("VAE training: freezing the encoder needs weights to start from (--init)");
        foreach (var (name, p) in vae.named_parameters()) p.requires_grad = !(options.FreezeEncoder && name.StartsWith("encoder."));
        vae.train();
        try
        {
            // Start with a narrow posterior (std e^(InitialLogvar/2)): at logvar 0 the noise would be as large as the
            // LayerNormed mean and hide the signal from the decoder for most of a short run.
            if (options.InitFrom is null)
            {
                using var _ = no_grad();
                using var logvarBias = vae.named_parameters().First(p => p.name == "encoder.conv_out.bias").parameter[config.ZChannels..];
                using (TorchSharp.Scalar value = InitialLogvar) logvarBias.fill_(value); // held until the call returns (see AdamW.Update)
            }
            var named = ParameterGroups.Trainable(vae);
            var parameters = named.Select(p => (Tensor)p.Value).ToList();
            // Adam (β 0.9/0.999, ε 1e-8, no weight decay) as our AdamW: TorchSharp's optim.Adam hands libtorch
            // temporary Scalars that a garbage collection during the call can free (see Held).
            using var adam = new AdamW([new ParameterGroup(0, named)], beta1: 0.9, beta2: 0.999, eps: 1e-8);
            var losses = new List<double>();
            int skipped = 0, skippedInARow = 0;
            var cropRng = new Random(options.DataSeed);
            for (int step = 0; step < options.Steps; step++)
            {
                double progressFraction = Math.Max(step / (double)options.Steps, options.MaxMinutes is { } m ? clock.Elapsed.TotalMinutes / m : 0);
                if (progressFraction >= 1) break;
                using var scope = NewDisposeScope();
                long first = FirstScene(options, step);
                var scenes = TrainingScenes(options, first, options.BatchSize);
                var colors = TrainingColors(options, first, scenes);
                var marks = TrainingMarks(options, first, scenes);
                var pixels = Crop(TrainingPixels(scenes, colors, marks, config.Resolution), options.CropSize, cropRng);
                var (reconstruction, mean, logvar) = vae.TrainingForward(pixels, options.LatentNoise,
                    redraw is null ? null : z => redraw.Apply(z, RedrawCaptions(scenes, colors, marks), config.ShiftFactor, config.ScalingFactor));
                var error = reconstruction - pixels;
                // Shapes cover a few percent of the pixels: without extra weight on them a short run settles on the
                // background-only reconstruction. MSE + L1 (sharper edges), ×ForegroundWeight where a pixel differs from
                // its image's background (the top-left pixel).
                using var background = pixels[.., .., 0..1, 0..1];
                // Every Scalar is held until the calls return (see AdamW.Update).
                using Scalar threshold = 0.1, one = 1, half = 0.5, extra = options.ForegroundWeight - 1, klWeight = options.KlWeight;
                var foreground = Dilate((pixels - background).abs().sum([1], keepdim: true).gt(threshold).to_type(ScalarType.Float32), options.ForegroundDilation);
                var weight = Held.Add(foreground * extra, one);
                var rec = (Held.Add(Held.Square(error), error.abs()) * weight).mean();
                var kl = (Held.Add(Held.Square(mean), logvar.exp()) - one - logvar).mean() * half;
                var loss = Held.Add(rec, kl * klWeight);
                double recValue = rec.item<float>();
                if (!double.IsFinite(recValue) || !double.IsFinite(loss.item<float>()))
                    throw new NextStepException($"VAE training: the loss is not finite at step {step + 1} (reconstruction {recValue}); the weights saved so far are kept; lower --lr");
                adam.ZeroGrad();
                loss.backward();
                // A step with a NaN or infinite gradient is not applied (it would turn every weight into NaN); only a run of them stops training.
                if (!GradientsFinite(parameters))
                {
                    skipped++;
                    if (++skippedInARow >= MaxSkippedInARow)
                        throw new NextStepException($"VAE training: the gradients were not finite in {MaxSkippedInARow} steps in a row (up to step {step + 1}); the weights saved so far are kept; lower --lr");
                }
                else
                {
                    skippedInARow = 0;
                    adam.Update(options.LearningRate * LrFactor(step, progressFraction, options.WarmupSteps));
                }
                losses.Add(recValue);
                progress?.Invoke(step + 1, losses[^1]);
                if (options.SaveEvery > 0 && options.SaveTo is { } folder && (step + 1) % options.SaveEvery == 0) SaveInterim(vae, config, options, folder);
            }
            vae.eval();
            // Held-aside images: scenes far beyond the ones training drew.
            using var heldAside = ShapesPixels(options.DataSeed + 1, 0, options.StatisticsImages, config.Resolution);
            var scaled = Scaling(vae, config, options, heldAside);
            double psnr = Psnr(vae, heldAside);
            return new VaeTrainingResult(vae, scaled, losses, psnr, clock.Elapsed, skipped);
        }
        catch { vae.Dispose(); throw; }
    }

    /// <summary>The mask [B, 1, H, W] grown by <paramref name="pixels"/> in every direction (a square neighbourhood).</summary>
    public static Tensor Dilate(Tensor mask, int pixels)
    {
        if (pixels < 0) throw new NextStepException($"VAE training: foreground dilation {pixels} (the edge band, --edge-band) must be 0 or more pixels");
        return pixels == 0 ? mask : nn.functional.max_pool2d(mask, 2 * pixels + 1, stride: 1, padding: pixels);
    }

    /// <summary>Index (in the train split of <see cref="VaeTrainingOptions.DataSeed"/>) of the first scene of step <paramref name="step"/>'s batch.</summary>
    public static long FirstScene(VaeTrainingOptions options, int step) => options.FirstImage + (long)step * options.BatchSize;

    /// <summary>Consecutive steps with non-finite gradients after which training stops.</summary>
    public const int MaxSkippedInARow = 5;

    /// <summary>True when every gradient is free of NaN and infinity (its float64 norm, as gradient clipping measures it, is finite).</summary>
    internal static bool GradientsFinite(IEnumerable<Tensor> parameters)
        => GradientClipping.ParameterNorms(parameters).All(double.IsFinite);

    /// <summary>Writes the weights so far with latent statistics of 64 held-aside images, then goes on training.</summary>
    private static void SaveInterim(AutoencoderKL vae, VaeConfig config, VaeTrainingOptions options, string folder)
    {
        vae.eval();
        using (var pixels = ShapesPixels(options.DataSeed + 1, 0, 64, config.Resolution))
            Save(vae, Scaling(vae, config, options, pixels), folder);
        WriteReconstructions(vae, options.DataSeed + 1, folder);
        vae.train();
    }

    /// <summary>The config to save: measured latent statistics, or the starting ones when the encoder was frozen (its latents did not change).</summary>
    private static VaeConfig Scaling(AutoencoderKL vae, VaeConfig config, VaeTrainingOptions options, Tensor pixels)
        => options.FreezeEncoder ? config : WithLatentStatistics(vae, config, pixels);

    /// <summary>Writes <c>reconstructions.png</c>: eight held-aside images beside their decoded posterior means.</summary>
    public static void WriteReconstructions(AutoencoderKL vae, int dataSeed, string folder)
    {
        using var scope = NewDisposeScope();
        var pixels = ShapesPixels(dataSeed, 0, 8, vae.Config.Resolution);
        var (mean, _) = vae.EncodeMoments(pixels);
        var originals = NextStepPipeline.ToImages(pixels);
        var rebuilt = NextStepPipeline.ToImages(vae.Decode(mean));
        var sheet = originals.Zip(rebuilt).SelectMany(pair => new[] { (pair.First, "original", true), (pair.Second, "reconstruction", true) }).ToList();
        ShapesContactSheet.Write(Path.Combine(folder, "reconstructions.png"), sheet);
    }

    /// <summary>Linear warm-up, then cosine from 1 to 0.1 over the run's progress fraction.</summary>
    private static double LrFactor(int step, double progress, int warmupSteps)
        => step < warmupSteps ? (step + 1.0) / warmupSteps : 0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress));

    /// <summary>The same random crop (offsets on the 16-pixel token grid) of every image of the batch; the input when <paramref name="size"/> is 0.</summary>
    private static Tensor Crop(Tensor pixels, int size, Random rng)
    {
        long side = pixels.shape[2];
        if (size == 0 || size == side) return pixels;
        if (size % 16 != 0 || size > side) throw new NextStepException($"VAE training: crop size {size} must be a multiple of 16 no larger than the image ({side})");
        int y = 16 * rng.Next((int)(side - size) / 16 + 1), x = 16 * rng.Next((int)(side - size) / 16 + 1);
        return pixels[.., .., y..(y + size), x..(x + size)];
    }

    /// <summary>The config with <c>shift_factor</c> = mean and <c>scaling_factor</c> = 1/std of the posterior samples of <paramref name="pixels"/>.</summary>
    public static VaeConfig WithLatentStatistics(AutoencoderKL vae, VaeConfig config, Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var samples = vae.EncodeSample(pixels);
        double shift = samples.mean().item<float>();
        double std = samples.std().item<float>();
        if (!double.IsFinite(shift) || !double.IsFinite(std) || std <= 0)
            throw new NextStepException($"VAE latent statistics are not usable (mean {shift}, std {std}): training diverged");
        // "+ 0.0" turns a rounded −0 into 0 for config.json.
        return config with { ShiftFactor = Math.Round(shift, 4) + 0.0, ScalingFactor = Math.Round(1.0 / std, 4) };
    }

    /// <summary>PSNR (dB, pixels in [0, 255]) of decoding the posterior means of <paramref name="pixels"/> after 8-bit rounding.</summary>
    public static double Psnr(AutoencoderKL vae, Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var (mean, _) = vae.EncodeMoments(pixels);
        var decoded = PixelTensors.ToUInt8(vae.Decode(mean)).to_type(ScalarType.Float32);
        var original = PixelTensors.ToUInt8(pixels).to_type(ScalarType.Float32);
        double mse = Held.Square(decoded - original).mean().item<float>();
        return 10 * Math.Log10(255.0 * 255.0 / Math.Max(mse, 1e-10));
    }

    /// <summary>
    /// Writes <c>config.json</c> and <c>checkpoint.pt</c> (the official layout: a <c>torch.save</c> zip checkpoint of the state
    /// dict, official key names, float32, which the official code loads with <c>torch.load</c>) to <paramref name="folder"/>.
    /// A <c>checkpoint.safetensors</c> there from an earlier save is removed, so the folder holds one set of weights.
    /// </summary>
    public static void Save(AutoencoderKL vae, VaeConfig config, string folder)
    {
        Directory.CreateDirectory(folder);
        config.Save(Path.Combine(folder, "config.json"));
        var tensors = vae.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach())).ToList();
        try { TorchZipWriter.Save(Path.Combine(folder, "checkpoint.pt"), tensors); }
        finally { foreach (var t in tensors) t.Value.Dispose(); }
        File.Delete(Path.Combine(folder, "checkpoint.safetensors"));
    }
}
