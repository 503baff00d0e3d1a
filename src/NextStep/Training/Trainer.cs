using System.Diagnostics;
using NextStep.Config;
using NextStep.Imaging;
using NextStep.Model;
using NextStep.Pipeline;
using NextStep.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>What a run did: the mean loss of every optimizer step it took, where it saved, and its speed.</summary>
public sealed record TrainResult(IReadOnlyList<double> Losses, string LastCheckpoint, double StepsPerSecond);

/// <summary>
/// The training loop: the official objective (<see cref="Objective"/>) on packed batches (<see cref="BatchPacker{TImage}"/>),
/// gradient accumulation (the loss divided by the number of micro-batches, as DeepSpeed does), global-norm clipping,
/// AdamW on the official parameter groups and a warm-up schedule. The VAE is frozen: every image's posterior
/// moments are encoded once, and each step draws a fresh posterior sample. Everything random comes from the run's own
/// torch generator (seeded with <see cref="TrainOptions.Seed"/>; the global one is left alone) and seeded data decisions, so a run is deterministic and
/// <see cref="TrainOptions.ResumeDir"/> continues it bit for bit.
/// </summary>
public sealed class Trainer
{
    private readonly TrainOptions _o;
    private readonly Action<string> _log;

    public Trainer(TrainOptions options, Action<string> log) { _o = options; _log = log; }

    public TrainResult Run()
    {
        Validate();
        int threads = torch.get_num_threads();
        if (_o.Threads > 0) torch.set_num_threads(_o.Threads);
        try { return RunLoop(); }
        finally { torch.set_num_threads(threads); }
    }

    private TrainResult RunLoop()
    {
        using var scope = NewDisposeScope();
        var source = ResolveSources();
        using var generator = new Generator((ulong)_o.Seed);
        var tokenizer = Qwen2Tokenizer.Load(source.TokenizerDir);
        using var vae = AutoencoderKL.Load(source.VaeDir);
        using var model = LoadModel(source, generator);
        var c = model.Config;
        int factor = vae.DownFactor * c.LatentPatchSize;
        if (_o.ImageSize % factor != 0) throw new NextStepException($"--image-size {_o.ImageSize} must be a multiple of {factor} (VAE factor × patch size)");
        if (vae.Config.ZChannels != c.LatentChannels)
            throw new NextStepException($"{source.VaeDir}: the VAE has {vae.Config.ZChannels} latent channels but the model expects {c.LatentChannels}");

        var examples = LoadData();
        string sizes = string.Join(", ", examples.GroupBy(e => $"{e.Image.Width}x{e.Image.Height}").Select(g => $"{g.Count()} at {g.Key}"));
        _log($"data: {examples.Count} images ({sizes}) from {DataName}");
        var (means, logvars) = EncodeMoments(vae, examples);
        var grids = examples.Select(e => new TokenGrid(e.Image.Height / factor, e.Image.Width / factor)).ToArray();
        var builder = new SequenceBuilder(tokenizer, c.Boi, c.Eoi, c.ImagePlaceholderId);
        TokenizedSample<int> Tokenized(int epoch, int i) => builder.TextToImage(CaptionAugment.Apply(examples[i].Caption, _o.Seed, epoch, i, _o.CapitalizeProb),
            i, grids[i], SequenceBuilder.ImageFirst(_o.Seed, i, _o.DropTextProb));
        int longest = Enumerable.Range(0, examples.Count).Max(i => Tokenized(0, i).InputIds.Length);
        int rowLength = _o.RowLength > 0 ? _o.RowLength : (longest * 2 + 15) / 16 * 16;
        var state = new TrainerState(0, 0, _o.Seed, _o.BatchSize, _o.GradAccum, rowLength, _o.ImageSize, _o.MultiAspect, _o.DropTextProb, DataName, examples.Count);

        var groups = ParameterGroups.Official(model, _o.WeightDecay);
        using var adam = new AdamW(groups);
        var schedule = LrSchedule.Create(_o.Schedule, _o.Warmup, _o.Steps, _o.ScaleLr);
        var stream = Batches(examples.Count, Tokenized, rowLength, tokenizer.PadTokenId).GetEnumerator();
        if (_o.ResumeDir is { } resume)
        {
            var saved = TrainCheckpoint.LoadState(resume);
            CheckCompatible(saved, state, resume);
            for (long i = 0; i < saved.MicroBatches; i++) stream.MoveNext();
            TrainCheckpoint.LoadOptimizerAndRng(resume, adam, generator);
            state = saved;
            _log($"resumed from {resume} at step {saved.Step}");
        }
        if (state.Step >= _o.Steps) throw new NextStepException($"the run is already at step {state.Step}; --steps {_o.Steps} leaves nothing to do");

        double shift = _o.LatentShift ?? vae.Config.ShiftFactor, scale = _o.LatentScale ?? vae.Config.ScalingFactor;
        _log($"model: {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {groups.Sum(g => g.Parameters.Sum(p => p.Value.numel())):N0} parameters; rows of {rowLength} tokens × {_o.BatchSize}, accumulation {_o.GradAccum}");
        if (Objective.InputNoiseNote(c) is { } noise) _log(noise);
        var losses = new List<double>();
        string last = "";
        var clock = Stopwatch.StartNew();
        long firstStep = state.Step;
        for (long step = state.Step; step < _o.Steps; step++)
        {
            adam.ZeroGrad();
            double loss = 0, lm = 0, img = 0;
            for (int k = 0; k < _o.GradAccum; k++)
            {
                using var micro = NewDisposeScope();
                stream.MoveNext();
                var packed = stream.Current;
                var batch = ToTensors(packed, means, logvars, vae, shift, scale, generator);
                var result = Objective.Compute(model, batch, out _, generator: generator);
                double value = result.Loss.item<float>();
                if (!double.IsFinite(value)) throw new NextStepException($"the loss is {value} at step {step + 1} (NaN or infinite); lower --lr or check the data");
                using (Scalar accum = _o.GradAccum) // held until the call returns (see AdamW.Update)
                    (result.Loss / accum).backward();
                loss += value / _o.GradAccum; lm += result.LmLoss.item<float>() / _o.GradAccum; img += result.ImageLoss.item<float>() / _o.GradAccum;
            }
            Objective.ClearPaddingGradient(model);
            var clip = GradientClipping.Clip(groups, _o.MaxGradNorm);
            double lr = _o.Lr * schedule.Lambda(step);
            adam.Update(lr);
            losses.Add(loss);
            state = state with { Step = step + 1, MicroBatches = state.MicroBatches + _o.GradAccum };
            double rate = (step + 1 - firstStep) / clock.Elapsed.TotalSeconds;
            if (step == firstStep || (step + 1) % Math.Max(1, _o.LogEvery) == 0 || step + 1 == _o.Steps)
                _log($"step {step + 1}/{_o.Steps}  loss {loss:F4}  lm {lm:F4}  image {img:F4}  lr {lr:E2}  grad-norm {clip.GlobalNorm:F3}  {rate:F2} steps/s  ETA {TimeSpan.FromSeconds((_o.Steps - step - 1) / rate):hh\\:mm\\:ss}");
            if (_o.SampleEvery > 0 && (step + 1) % _o.SampleEvery == 0)
                _log($"sample {Sample(model, tokenizer, vae, _o.SamplePrompt ?? examples[0].Caption, step + 1)}");
            if ((_o.SaveEvery > 0 && (step + 1) % _o.SaveEvery == 0) || step + 1 == _o.Steps)
            {
                last = Path.Combine(_o.OutDir, $"checkpoint-{step + 1}");
                TrainCheckpoint.Save(last, model, adam, generator, state, source.ConfigPath, source.TokenizerDir, source.VaeDir);
                _log($"saved {last}");
            }
        }
        return new TrainResult(losses, last, (_o.Steps - firstStep) / clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// A preview with the inference pipeline (seeded with the run's seed on torch's global generator, which training
    /// does not use, so previews never change the training stream).
    /// </summary>
    private string Sample(NextStepModel model, Qwen2Tokenizer tokenizer, AutoencoderKL vae, string prompt, long step)
    {
        var pipeline = new NextStepPipeline(model, tokenizer, vae);
        var request = new GenerationRequest
        {
            Captions = [prompt], Height = _o.ImageSize, Width = _o.ImageSize, Cfg = _o.SampleCfg,
            NumSamplingSteps = _o.SampleSteps, Seed = _o.Seed,
        };
        var image = pipeline.Generate(request)[0];
        string path = Path.Combine(_o.OutDir, "samples", $"step-{step:D6}.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        ImageIO.Save(image, path);
        return path;
    }

    private sealed record Sources(string ConfigPath, string? WeightsDir, string TokenizerDir, string VaeDir);

    private string DataName => _o.DataDir is { } d ? Path.GetFullPath(d) : $"shapes:{_o.ShapesCount}";

    private void Validate()
    {
        void Positive(string name, double v) { if (!(v > 0)) throw new NextStepException($"{name} must be positive, found {v}"); }
        Positive("--steps", _o.Steps); Positive("--batch-size", _o.BatchSize); Positive("--grad-accum", _o.GradAccum);
        Positive("--lr", _o.Lr); Positive("--image-size", _o.ImageSize); Positive("--max-grad-norm", _o.MaxGradNorm);
        if (_o.DropTextProb is < 0 or > 1) throw new NextStepException($"--drop-text must be in [0, 1], found {_o.DropTextProb}");
        if (_o.CapitalizeProb is < 0 or > 1) throw new NextStepException($"--capitalize must be in [0, 1], found {_o.CapitalizeProb}");
        int inits = (_o.ModelDir is null ? 0 : 1) + (_o.ConfigPath is null ? 0 : 1) + (_o.ResumeDir is null ? 0 : 1);
        if (inits != 1) throw new NextStepException("give exactly one of --model INIT_DIR, --config CONFIG.json or --resume CHECKPOINT_DIR");
        if ((_o.DataDir is null) == (_o.ShapesCount <= 0)) throw new NextStepException("give exactly one of --data DIR or --shapes N");
    }

    private Sources ResolveSources()
    {
        if ((_o.ModelDir ?? _o.ResumeDir) is { } dir)
        {
            if (!Directory.Exists(dir)) throw new NextStepException($"{dir}: model folder not found");
            string config = Path.Combine(dir, "config.json");
            return new Sources(config, dir, _o.TokenizerDir ?? dir, _o.VaeDir ?? VaeFolder(dir, config));
        }
        string cfg = _o.ConfigPath!;
        if (!File.Exists(cfg)) throw new NextStepException($"{cfg}: config file not found");
        string folder = Path.GetDirectoryName(Path.GetFullPath(cfg))!;
        return new Sources(cfg, null, _o.TokenizerDir ?? folder, _o.VaeDir ?? VaeFolder(folder, cfg));
    }

    private static string VaeFolder(string folder, string configPath)
    {
        string local = Path.Combine(folder, "vae");
        if (Directory.Exists(local)) return local;
        var named = NextStepConfig.Load(configPath).VaeNameOrPath;
        if (named is not null && Directory.Exists(Path.Combine(folder, named))) return Path.Combine(folder, named);
        throw new NextStepException($"{folder}: no vae/ folder (and vae_name_or_path does not name one); give --vae DIR");
    }

    private NextStepModel LoadModel(Sources s, Generator generator)
    {
        NextStepModel model;
        if (s.WeightsDir is { } dir) model = NextStepModel.Load(dir, ScalarType.Float32, rope: RopeInvFreq.Bf16Rounded);
        else
        {
            var config = NextStepConfig.Load(s.ConfigPath);
            model = new NextStepModel(config, NextStepLayout.FromConfig(config), ScalarType.Float32, rope: RopeInvFreq.Bf16Rounded);
            ModelInit.Initialize(model, generator);
        }
        Objective.EnableTraining(model);
        return model;
    }

    private List<TrainingExample> LoadData() => _o.DataDir is { } dir
        ? TrainingData.FromFolder(dir, _o.ImageSize, _o.StrictData, m => _log("warning: " + m), _o.MultiAspect)
        : TrainingData.FromShapes(_o.ShapesCount, _o.Seed, _o.ImageSize);

    /// <summary>Posterior moments of every image (the frozen encoder is deterministic), up to 8 same-size images at a time.</summary>
    private static (Tensor[] Means, Tensor[] Logvars) EncodeMoments(AutoencoderKL vae, List<TrainingExample> examples)
    {
        var means = new Tensor[examples.Count];
        var logvars = new Tensor[examples.Count];
        var bySize = Enumerable.Range(0, examples.Count).GroupBy(i => (examples[i].Image.Width, examples[i].Image.Height));
        foreach (var chunk in bySize.SelectMany(g => g.Chunk(8)))
        {
            using var scope = NewDisposeScope();
            var pixels = stack(chunk.Select(i => Pixels(examples[i].Image)).ToArray());
            var (mean, logvar) = vae.EncodeMoments(pixels);
            for (int k = 0; k < chunk.Length; k++)
            {
                means[chunk[k]] = mean[k].clone().MoveToOuterDisposeScope();
                logvars[chunk[k]] = logvar[k].clone().MoveToOuterDisposeScope();
            }
        }
        return (means, logvars);
    }

    /// <summary>RGB bytes → [3, H, W] float in [−1, 1].</summary>
    public static Tensor Pixels(RgbImage image)
    {
        using var hwc = tensor(image.Rgb, [image.Height, image.Width, 3]);
        using var chw = hwc.permute(2, 0, 1);
        return PixelTensors.FromUInt8(chw);
    }

    /// <summary>The endless packed stream: epoch e visits the examples in a seeded shuffled order.</summary>
    private IEnumerable<PackedBatch<int>> Batches(int count, Func<int, int, TokenizedSample<int>> sample, int rowLength, int pad)
    {
        var packer = new BatchPacker<int>(rowLength, _o.BatchSize, pad);
        for (int epoch = 0; ; epoch++)
        {
            var order = Enumerable.Range(0, count).ToArray();
            new Random(unchecked(_o.Seed * 1_000_003 + epoch)).Shuffle(order);
            foreach (var i in order)
                foreach (var batch in packer.Add(sample(epoch, i))) yield return batch;
        }
    }

    /// <summary>Ids and labels as tensors and fresh latents: one posterior draw for the batch's images, then (z − shift)·scale.</summary>
    private static TrainingBatch ToTensors(PackedBatch<int> packed, Tensor[] means, Tensor[] logvars, AutoencoderKL vae, double shift, double scale, Generator generator)
    {
        long rows = packed.InputIds.Length, len = packed.InputIds[0].Length;
        var ids = tensor(packed.InputIds.SelectMany(r => r).Select(v => (long)v).ToArray(), [rows, len]);
        var labels = tensor(packed.Labels.SelectMany(r => r).Select(v => (long)v).ToArray(), [rows, len]);
        var mean = stack(packed.Images.Select(i => means[i]).ToArray());
        var logvar = stack(packed.Images.Select(i => logvars[i]).ToArray());
        var noise = randn(mean.shape, generator: generator);
        var latents = AutoencoderKL.NormalizeLatents(vae.SamplePosterior(mean, logvar, noise), shift, scale);
        return new TrainingBatch(ids, labels, latents.unbind(0), packed.ImageFilteredIdx);
    }

    private void CheckCompatible(TrainerState saved, TrainerState now, string folder)
    {
        var pairs = new (string Name, object Saved, object Now)[]
        {
            ("--seed", saved.Seed, now.Seed), ("--batch-size", saved.BatchSize, now.BatchSize), ("--grad-accum", saved.GradAccum, now.GradAccum),
            ("row length", saved.RowLength, now.RowLength), ("--image-size", saved.ImageSize, now.ImageSize), ("--multi-aspect", saved.MultiAspect, now.MultiAspect),
            ("--drop-text", saved.DropTextProb, now.DropTextProb), ("data", saved.Data, now.Data), ("number of images", saved.Examples, now.Examples),
        };
        foreach (var (name, s, n) in pairs)
            if (!s.Equals(n)) throw new NextStepException($"{folder}: the checkpoint was trained with {name} = {s}, this run has {n}; resuming needs the same data settings");
    }
}
