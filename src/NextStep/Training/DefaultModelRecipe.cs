using System.Diagnostics;
using System.Text.Json.Nodes;
using NextStep.Config;
using NextStep.Loading;
using NextStep.Model;
using NextStep.Tokenization;
using NextStep.Training.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>Settings of <see cref="DefaultModelRecipe.Train"/>.</summary>
public sealed record DefaultModelOptions
{
    public int Steps { get; init; } = 2000;
    /// <summary>Wall-clock budget (null = none): the schedule runs on max(step fraction, time fraction) and stops at 1.</summary>
    public double? MaxMinutes { get; init; }
    public int BatchSize { get; init; } = 32;
    /// <summary>Peak AdamW learning rate (β = 0.9, 0.95): linear warm-up, then cosine decay to 10 %.</summary>
    public double LearningRate { get; init; } = 1e-3;
    public int WarmupSteps { get; init; } = 50;
    public double WeightDecay { get; init; } = 0.01;
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Fraction of samples whose image comes before the caption (the official drop-text order), which teaches the unconditional prediction classifier-free guidance needs.</summary>
    public double CaptionDropout { get; init; } = 0.1;
    public long Seed { get; init; } = 0;
    /// <summary>Calls the checkpoint callback of <see cref="DefaultModelRecipe.Train"/> every this many steps (0 = never).</summary>
    public int SaveEvery { get; init; } = 0;
    /// <summary>Decay of an exponential moving average of the weights (<see cref="WeightAverage"/>; 0 = none). With it, checkpoints and the trained model hold the averaged weights.</summary>
    public double EmaDecay { get; init; } = 0;
    /// <summary>
    /// Parameter-name prefixes that stay fixed (a prefix names a module: "layers" freezes every "layers.*" weight).
    /// The official freeze flags are <c>freeze_embed_tokens</c> = "embed_tokens", <c>freeze_lm_model</c> =
    /// "layers" and "norm", <c>freeze_lm_head</c> = "lm_head". Empty: everything trains.
    /// </summary>
    public IReadOnlyList<string> Freeze { get; init; } = [];
    /// <summary>Replace some input tokens by the model's own samples of them (<see cref="Training.SelfInputs"/>; null = off, the official recipe).</summary>
    public SelfInputs? SelfInputs { get; init; }
}

/// <summary>Sizes of the small model: the Qwen2 backbone (hidden width, layers, heads, SwiGLU width) and the flow-matching head.</summary>
public sealed record DefaultModelSize(int Hidden, int Layers, int Heads, int KvHeads, int Intermediate, int HeadWidth, int HeadLayers)
{
    /// <summary>The size of models/default: 2.87M parameters (11.5 MB in float32), next to the 4.1M-parameter VAE.</summary>
    public static DefaultModelSize Default { get; } = new(192, 4, 4, 2, 512, 192, 3);

    /// <summary>Parses "HIDDEN,LAYERS,HEADS,KV_HEADS,INTERMEDIATE,HEAD_WIDTH,HEAD_LAYERS" (the --size option).</summary>
    public static DefaultModelSize Parse(string text)
    {
        var parts = text.Split(',');
        if (parts.Length != 7 || parts.Any(p => !int.TryParse(p, out int v) || v < 1))
            throw new NextStepException($"--size \"{text}\": expected 7 positive integers HIDDEN,LAYERS,HEADS,KV_HEADS,INTERMEDIATE,HEAD_WIDTH,HEAD_LAYERS");
        var v = parts.Select(int.Parse).ToArray();
        var size = new DefaultModelSize(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
        if (size.Hidden % size.Heads != 0 || size.Heads % size.KvHeads != 0 || (size.Hidden / size.Heads) % 2 != 0)
            throw new NextStepException($"--size \"{text}\": the hidden width must split into heads of an even width, and the heads into the KV heads");
        return size;
    }
}

/// <summary>
/// Training data: captions and the VAE posterior (mean, std) of their images [N, C, h, w], with the
/// <see cref="AutoencoderKL.EncoderFingerprint"/> of the encoder that made them (null when unknown).
/// </summary>
public sealed record LatentDataset(IReadOnlyList<string> Captions, Tensor Mean, Tensor Std, string? Encoder = null) : IDisposable
{
    private const string EncoderKey = "encoder_sha256";

    public void Dispose() { Mean.Dispose(); Std.Dispose(); }

    /// <summary>The same dataset with its tensors on <paramref name="device"/>; this one is disposed (it may hold gigabytes).</summary>
    public LatentDataset MoveTo(Device device)
    {
        if (Mean.device_type == device.type && Mean.device_index == device.index) return this;
        var moved = this with { Mean = Mean.to(device), Std = Std.to(device) };
        Dispose();
        return moved;
    }

    /// <summary>Writes <c>latents.safetensors</c> (mean, std; the encoder fingerprint in its metadata) and <c>captions.json</c> to <paramref name="folder"/>, so several runs can share one encoding.</summary>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        SafeTensorsWriter.Save(Path.Combine(folder, "latents.safetensors"), [new("mean", Mean), new("std", Std)],
            Encoder is null ? null : new Dictionary<string, string> { [EncoderKey] = Encoder });
        File.WriteAllText(Path.Combine(folder, "captions.json"), System.Text.Json.JsonSerializer.Serialize(Captions));
    }

    /// <summary>Reads what <see cref="Save"/> wrote; errors name the file and what was wrong.</summary>
    public static LatentDataset Load(string folder)
    {
        string captionsPath = Path.Combine(folder, "captions.json");
        if (!File.Exists(captionsPath)) throw new NextStepException($"{captionsPath}: not found (expected a latent cache written by train-default --latents)");
        List<string>? captions;
        try { captions = System.Text.Json.JsonSerializer.Deserialize<List<string>>(File.ReadAllText(captionsPath)); }
        catch (System.Text.Json.JsonException e) { throw new NextStepException($"{captionsPath}: expected a JSON array of caption strings ({e.Message})"); }
        if (captions is null || captions.Any(string.IsNullOrWhiteSpace)) throw new NextStepException($"{captionsPath}: expected a JSON array of non-empty caption strings");
        // SafeTensorsFile names the file when it is missing or lacks a tensor; it also gives the metadata.
        string latentsPath = Path.Combine(folder, "latents.safetensors");
        using var file = SafeTensorsFile.Open(latentsPath);
        var mean = file.Load("mean", ScalarType.Float32);
        var std = file.Load("std", ScalarType.Float32);
        if (mean.dim() != 4 || !mean.shape.SequenceEqual(std.shape) || mean.shape[0] != captions.Count)
        {
            var shape = string.Join(", ", mean.shape);
            mean.Dispose(); std.Dispose();
            throw new NextStepException($"{latentsPath}: mean [{shape}] and std must be [{captions.Count}, C, h, w] like the {captions.Count} captions");
        }
        return new LatentDataset(captions, mean, std, file.Metadata.GetValueOrDefault(EncoderKey));
    }

    /// <summary>Refuses latents that another encoder made; a cache without a fingerprint (older files) is accepted, and the return value says so.</summary>
    public bool CheckEncoder(AutoencoderKL vae, string folder)
    {
        if (Encoder is null) return false;
        string current = vae.EncoderFingerprint();
        if (Encoder != current)
            throw new NextStepException($"{folder}/latents.safetensors: encoded by another VAE encoder ({EncoderKey} {Encoder[..12]}…, this --vae has {current[..12]}…); delete the cache or pass the VAE that made it");
        return true;
    }
}

/// <summary>
/// One optimizer step as <see cref="DefaultModelRecipe.Train"/> reports it: its number (from 1), its losses, the learning
/// rate it used and the run's wall time so far (the clock that <see cref="DefaultModelOptions.MaxMinutes"/> is measured on).
/// </summary>
public readonly record struct DefaultModelStep(int Step, double Loss, double Lm, double Image, double LearningRate, TimeSpan Elapsed);

/// <summary>What one run produced: per-step total, text (CE) and image (flow-matching) losses and the wall time.</summary>
public sealed record DefaultModelTraining(IReadOnlyList<(double Loss, double Lm, double Image)> Losses, TimeSpan Elapsed);

/// <summary>
/// The recipe of the repository's default model: the NextStep architecture at a small size, trained on the Shapes
/// train split (held-out combinations excluded) with the official objective (<see cref="Objective"/>: CE weight 0.01 on
/// text + flow-matching loss on the image tokens, fm_head_batch_mul copies), AdamW with gradient clipping.
/// </summary>
public static class DefaultModelRecipe
{
    /// <summary>
    /// config.json of the small model. Token ids are those of the tiny test tokenizer (1055 tokens, 1088 embedding rows):
    /// BOS/EOS 1024, PAD 1046, BOI 1048, EOI 1049, image placeholder 1050.
    /// </summary>
    public static JsonObject ConfigJson(DefaultModelSize? size = null)
    {
        var z = size ?? DefaultModelSize.Default;
        return new()
        {
            ["architectures"] = new JsonArray("NextStep"),
            ["model_type"] = "nextstep",
            ["hidden_size"] = z.Hidden,
            ["num_hidden_layers"] = z.Layers,
            ["num_attention_heads"] = z.Heads,
            ["num_key_value_heads"] = z.KvHeads,
            ["head_dim"] = z.Hidden / z.Heads,
            ["intermediate_size"] = z.Intermediate,
            ["hidden_act"] = "silu",
            ["attention_bias"] = true,
            ["o_attention_bias"] = false,
            ["mlp_bias"] = false,
            ["rms_norm_eps"] = 1e-6,
            ["rope_theta"] = 10000.0,
            ["max_position_embeddings"] = 512,
            ["tie_word_embeddings"] = false,
            ["vocab_size"] = 1088,
            ["bos_token_id"] = 1024,
            ["eos_token_id"] = 1024,
            ["pad_token_id"] = 1046,
            ["boi"] = 1048,
            ["eoi"] = 1049,
            ["image_placeholder_id"] = 1050,
            ["latent_channels"] = 16,
            ["latent_patch_size"] = 2,
            ["latent_size"] = 8,
            ["base_image_grid_size"] = 4,
            ["fm_head_dim"] = z.HeadWidth,
            ["fm_head_layers"] = z.HeadLayers,
            ["fm_head_mlp_ratio"] = 1.0,
            ["fm_head_batch_mul"] = 4,
            ["lm_loss_weight"] = 0.01,
            ["im_loss_weight"] = 1.0,
            ["use_gen_pos_embed"] = false,
            ["vae_name_or_path"] = "vae",
            ["torch_dtype"] = "float32",
        };
    }

    /// <summary>The model's sampling defaults (<see cref="Sampling.SamplingProfile.FileName"/>), chosen by the Shapes eval (docs/DEFAULT_MODEL.md).</summary>
    public static JsonObject SamplingProfileJson() => new()
    {
        ["sampler"] = "hf",
        ["num_sampling_steps"] = 40,
        ["cfg"] = 3.0,
        ["use_norm"] = false,
        ["timesteps_shift"] = 1.0,
        ["height"] = ShapesRenderer.DefaultSize,
        ["width"] = ShapesRenderer.DefaultSize,
    };

    /// <summary>
    /// A freshly initialised model: linear and embedding weights N(0, 0.02), biases 0, norm weights 1; in the
    /// flow-matching head the adaLN modulations and the output layer start at zero (velocity 0), as in MAR/DiT.
    /// </summary>
    public static NextStepModel Initialise(NextStepConfig config, long seed, Device? device = null)
    {
        manual_seed(seed);
        var model = new NextStepModel(config, NextStepLayout.FromConfig(config), device: device);
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith("norm.weight") || name.EndsWith("layernorm.weight") || name.EndsWith("in_ln.weight")) nn.init.ones_(p);
            else if (name.EndsWith(".bias") || name.Contains("adaLN_modulation") || name.Contains("final_layer.linear")) p.zero_();
            else p.normal_(0.0, 0.02);
        }
        return model;
    }

    /// <summary>
    /// Renders scenes first..first+count−1 of the Shapes train split (categories drawn by <paramref name="mix"/>, uniform when null) and encodes them with the VAE (posterior mean and std).
    /// Small batches are faster on a CPU: at 64 images the full-resolution activations (64 MB each) are fresh memory maps
    /// every batch, and 640 images took twice as long as at 8 (measured on a 2-core machine); a GPU wants hundreds. The
    /// result does not depend on the batch size (every norm is per image). Scenes are drawn on all cores; the moments
    /// come back on the CPU, wherever the VAE runs, so the cache can be written.
    /// </summary>
    public static LatentDataset EncodeShapes(AutoencoderKL vae, int dataSeed, int count, int batch = 8, Action<int>? progress = null, int first = 0, ShapesMix? mix = null)
    {
        var captions = new List<string>();
        var means = new List<Tensor>();
        var stds = new List<Tensor>();
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            using var scope = NewDisposeScope();
            var scenes = Enumerable.Range(first + start, n).Select(i => ShapesDataset.Scene(dataSeed, i, ShapesSplit.Train, mix)).ToList();
            var pixels = VaeTrainer.ScenePixels(scenes, vae.Config.Resolution);
            var (mean, logvar) = vae.EncodeMoments(pixels);
            means.Add(mean.cpu().MoveToOuterDisposeScope());
            stds.Add(AutoencoderKL.PosteriorStd(logvar).cpu().MoveToOuterDisposeScope());
            captions.AddRange(scenes.Select(s => s.Caption));
            progress?.Invoke(start + n);
        }
        var result = new LatentDataset(captions, cat(means.ToArray(), 0), cat(stds.ToArray(), 0), vae.EncoderFingerprint());
        foreach (var t in means.Concat(stds)) t.Dispose();
        return result;
    }

    public static DefaultModelTraining Train(NextStepModel model, Qwen2Tokenizer tokenizer, VaeConfig vae, LatentDataset data,
        DefaultModelOptions options, Action<DefaultModelStep>? progress = null,
        Action<int, IReadOnlyList<KeyValuePair<string, Tensor>>>? checkpoint = null)
    {
        var c = model.Config;
        var device = model.Device;
        int grid = (int)data.Mean.shape[2] / c.LatentPatchSize;
        var builder = new SequenceBuilder(tokenizer, c.Boi, c.Eoi, c.ImagePlaceholderId);
        // Each (image, caption-first or image-first) sequence is tokenized once; a GPU run draws thousands per second.
        var sequences = new Dictionary<(int, bool), TokenizedSample<int>>();
        TokenizedSample<int> Sequence(int i, bool imageFirst) => sequences.TryGetValue((i, imageFirst), out var s) ? s
            : sequences[(i, imageFirst)] = builder.TextToImage(data.Captions[i], i, new TokenGrid(grid, grid), imageFirst);
        int pad = SequenceBuilder.PadId(c);
        var rng = new Random((int)options.Seed);
        manual_seed(options.Seed);
        Objective.EnableTraining(model);
        FreezeParameters(model, options.Freeze);
        var groups = ParameterGroups.Official(model, options.WeightDecay);
        using var adam = new AdamW(groups);
        using var average = options.EmaDecay > 0 ? new WeightAverage(model, options.EmaDecay) : null;
        var losses = new List<(double, double, double)>();
        var clock = Stopwatch.StartNew();
        for (int step = 0; step < options.Steps; step++)
        {
            double fraction = Math.Max(step / (double)options.Steps, options.MaxMinutes is { } m ? clock.Elapsed.TotalMinutes / m : 0);
            if (fraction >= 1) break;
            using var scope = NewDisposeScope();
            var picks = Enumerable.Range(0, options.BatchSize).Select(_ => rng.Next(data.Captions.Count)).ToArray();
            var samples = picks.Select(i => Sequence(i, rng.NextDouble() < options.CaptionDropout)).ToList();
            var ids = SequenceBuilder.RightPadded(samples.Select(s => s.InputIds).ToList(), pad);
            var labels = SequenceBuilder.RightPadded(samples.Select(s => s.Labels).ToList(), SequenceBuilder.IgnoreIndex);
            // A fresh posterior sample of every image, scaled as the pipeline expects: (z − shift) · scale.
            var index = tensor(picks.Select(i => (long)i).ToArray()).to(data.Mean.device);
            var mean = data.Mean.index_select(0, index);
            var std = data.Std.index_select(0, index);
            var latents = AutoencoderKL.NormalizeLatents(Held.Add(mean, std * randn_like(mean)), vae.ShiftFactor, vae.ScalingFactor);
            var batch = new TrainingBatch(tensor(ids).to(device), tensor(labels).to(device), latents.to(device).unbind(0), Enumerable.Repeat(true, picks.Length).ToList());

            adam.ZeroGrad();
            var loss = Objective.Compute(model, batch, out var hidden, selfInputs: options.SelfInputs);
            loss.Loss.backward();
            Objective.ClearPaddingGradient(model);
            GradientClipping.Clip(groups, options.MaxGradNorm);
            double lr = LearningRate(options, step, fraction);
            adam.Update(lr);
            average?.Update();
            var entry = (loss.Loss.item<float>(), (double)loss.LmLoss.item<float>(), (double)loss.ImageLoss.item<float>());
            losses.Add(entry);
            progress?.Invoke(new DefaultModelStep(step + 1, entry.Item1, entry.Item2, entry.Item3, lr, clock.Elapsed));
            if (options.SaveEvery > 0 && (step + 1) % options.SaveEvery == 0) checkpoint?.Invoke(step + 1, average?.Weights ?? Weights(model));
        }
        average?.CopyToModule();
        foreach (var (_, p) in model.named_parameters()) p.requires_grad = false;
        model.eval();
        return new DefaultModelTraining(losses, clock.Elapsed);
    }

    /// <summary>
    /// Turns off the gradient of every parameter named by one of <paramref name="prefixes"/> ("layers" matches
    /// "layers.0.mlp.up_proj.weight", not "layers_x"). A prefix that names no parameter is refused with the names
    /// the model has, and so is a list that leaves nothing to train.
    /// </summary>
    public static void FreezeParameters(NextStepModel model, IReadOnlyList<string> prefixes)
    {
        if (prefixes.Count == 0) return;
        var names = model.named_parameters().Select(p => p.name).ToList();
        bool Under(string name, string prefix) => name == prefix || name.StartsWith(prefix + ".", StringComparison.Ordinal);
        foreach (var prefix in prefixes.Where(x => !names.Any(n => Under(n, x))))
        {
            var modules = names.Select(n => n.Split('.')[0]).Distinct();
            throw new NextStepException($"freeze \"{prefix}\": no parameter of the model is named so (expected a module prefix such as {string.Join(", ", modules)})");
        }
        if (names.All(n => prefixes.Any(x => Under(n, x))))
            throw new NextStepException($"freeze {string.Join(",", prefixes)}: every parameter would be frozen, nothing would train");
        foreach (var (name, p) in model.named_parameters())
            if (prefixes.Any(x => Under(name, x))) p.requires_grad = false;
    }

    /// <summary>The schedule: linear warm-up over <see cref="DefaultModelOptions.WarmupSteps"/>, then cosine from the peak rate down to 10 % of it as <paramref name="fraction"/> goes from 0 to 1.</summary>
    public static double LearningRate(DefaultModelOptions options, int step, double fraction) =>
        options.LearningRate * (step < options.WarmupSteps ? (step + 1.0) / options.WarmupSteps : 0.1 + 0.45 * (1 + Math.Cos(Math.PI * fraction)));

    /// <summary>Writes model.safetensors (float32, official key names); config.json is written before training.</summary>
    public static void Save(NextStepModel model, string folder) => Save(Weights(model), folder);

    /// <summary>Writes named weights (a model's, or the averaged ones a checkpoint callback receives) as model.safetensors.</summary>
    public static void Save(IEnumerable<KeyValuePair<string, Tensor>> weights, string folder)
    {
        Directory.CreateDirectory(folder);
        var tensors = weights.Select(w => new KeyValuePair<string, Tensor>(w.Key, w.Value.detach().contiguous())).ToList();
        try { SafeTensorsWriter.Save(Path.Combine(folder, "model.safetensors"), tensors); }
        finally { foreach (var t in tensors) t.Value.Dispose(); }
    }

    private static IReadOnlyList<KeyValuePair<string, Tensor>> Weights(NextStepModel model) =>
        model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)).ToList();
}
