using System.CommandLine;
using NextStep.Config;
using NextStep.Model;
using NextStep.Pipeline;
using NextStep.Sampling;
using NextStep.Tokenization;
using NextStep.Training;
using NextStep.Training.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Cli.Commands;

/// <summary>
/// <c>nextstep train-default</c>: trains the small NextStep model of <c>models/default</c> on Shapes latents from a VAE
/// made by <c>train-vae</c>, and writes a complete model folder (config, weights, tokenizer, VAE, sampling profile).
/// </summary>
public static class TrainDefaultCommand
{
    public static Command Create()
    {
        var defaults = new DefaultModelOptions();
        var vaeDir = new Option<string>("--vae") { Description = "VAE folder written by train-vae", Required = true };
        var tokenizerDir = new Option<string>("--tokenizer") { Description = "Folder with tokenizer.json and tokenizer_config.json (ids as in the tiny test tokenizer)", Required = true };
        var output = new Option<string>("--out") { Description = "Model folder to write", Required = true };
        var images = new Option<int>("--images") { Description = "Shapes train-split images to encode and train on", DefaultValueFactory = _ => 4000 };
        var firstImage = new Option<int>("--first-image") { Description = "Index of the first Shapes train-split scene to encode (fresh scenes for a continued run)", DefaultValueFactory = _ => 0 };
        var mix = new Option<string?>("--category-mix") { Description = "Category weights of the encoded scenes, e.g. two_objects=2,color_attr=2 (others 1; default: all equal)" };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => defaults.Steps };
        var minutes = new Option<double?>("--minutes") { Description = "Wall-clock budget for the optimisation (the schedule follows it)" };
        var batch = new Option<int>("--batch") { Description = "Sequences per step", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var dropout = new Option<double>("--caption-dropout") { Description = "Fraction of image-before-caption samples (unconditional, for CFG)", DefaultValueFactory = _ => defaults.CaptionDropout };
        var seed = new Option<long>("--seed") { Description = "Seed of the init, batches and noise", DefaultValueFactory = _ => defaults.Seed };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch", DefaultValueFactory = _ => 1 };
        var device = new Option<string>("--device") { Description = "cpu or cuda: where the VAE encodes and the model trains (a CUDA run draws other random numbers than a CPU run)", DefaultValueFactory = _ => "cpu" };
        var size = new Option<string?>("--size") { Description = "Model size HIDDEN,LAYERS,HEADS,KV_HEADS,INTERMEDIATE,HEAD_WIDTH,HEAD_LAYERS (default: models/default's)" };
        var latents = new Option<string?>("--latents") { Description = "Latent cache folder: read when it exists, else the encoded images are written there (several runs share one encoding)" };
        var init = new Option<string?>("--init") { Description = "Start from this model folder (its weights and its size) instead of a fresh init" };
        var saveEvery = new Option<int>("--save-every") { Description = "Also write the weights so far to --out every N steps (0 = only at the end)", DefaultValueFactory = _ => 0 };
        var ema = new Option<double>("--ema") { Description = "Decay of an exponential moving average of the weights, saved instead of the raw ones (0 = off; e.g. 0.999)", DefaultValueFactory = _ => defaults.EmaDecay };
        var freeze = new Option<string?>("--freeze") { Description = "Comma-separated parameter prefixes that stay fixed, e.g. embed_tokens,layers,norm,lm_head,image_in_projector (only the flow-matching head and image_out_projector train)" };
        var selfInputs = new Option<double>("--self-inputs") { Description = "Probability that an input image token is replaced by the model's own sample of it (parallel scheduled sampling; 0 = off, the official recipe)", DefaultValueFactory = _ => 0 };
        var selfInputSteps = new Option<int>("--self-input-steps") { Description = "Euler steps of the head when it samples those tokens", DefaultValueFactory = _ => 8 };
        var selfInputStart = new Option<double>("--self-input-start") { Description = "Flow time (0..1) at which that sampling starts from the true token noised to it (0 = from pure noise)", DefaultValueFactory = _ => 0 };
        var logEvery = new Option<int>("--log-every") { Description = "Print the mean losses every N steps", DefaultValueFactory = _ => 25 };
        var cmd = new Command("train-default", "Train the small default NextStep model on Shapes")
        {
            vaeDir, tokenizerDir, output, images, firstImage, mix, steps, minutes, batch, lr, dropout, seed, size, latents, init, saveEvery, ema, freeze, selfInputs, selfInputSteps, selfInputStart, threads, device, logEvery,
        };
        cmd.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            var categoryMix = p.GetValue(mix) is { } m ? ShapesMix.Parse(m) : null;
            // Checked before anything is encoded or loaded.
            var selfSampling = p.GetResult(selfInputs) is { Implicit: false }
                ? new SelfInputs(p.GetValue(selfInputs), p.GetValue(selfInputSteps), p.GetValue(selfInputStart))
                    .Validate($"--self-inputs {p.GetValue(selfInputs)} --self-input-steps {p.GetValue(selfInputSteps)} --self-input-start {p.GetValue(selfInputStart)}")
                : null;
            set_num_threads(p.GetValue(threads));
            var on = new Device(PipelineOptions.ParseDevice(p.GetValue(device)!));
            var dir = Directory.CreateDirectory(p.GetValue(output)!).FullName;
            foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
                File.Copy(Path.Combine(p.GetValue(tokenizerDir)!, file), Path.Combine(dir, file), overwrite: true);
            var vaeOut = Directory.CreateDirectory(Path.Combine(dir, "vae")).FullName;
            // The VAE's config and one weight file (checkpoint.pt, the official name, when the folder has it).
            var vaeSource = p.GetValue(vaeDir)!;
            string weights = File.Exists(Path.Combine(vaeSource, "checkpoint.pt")) ? "checkpoint.pt" : "checkpoint.safetensors";
            foreach (var stale in new[] { "checkpoint.pt", "checkpoint.safetensors" }.Where(f => f != weights)) File.Delete(Path.Combine(vaeOut, stale));
            foreach (var file in new[] { "config.json", weights })
            {
                if (!File.Exists(Path.Combine(vaeSource, file))) throw new NextStepException($"--vae {vaeSource}: {file} not found (expected a folder written by train-vae)");
                File.Copy(Path.Combine(vaeSource, file), Path.Combine(vaeOut, file), overwrite: true);
            }
            // A continued run keeps the size of the model it starts from: its config.json is the one written.
            if (p.GetValue(init) is { } initDir)
            {
                if (p.GetValue(size) is not null) throw new NextStepException($"--size and --init {initDir} cannot be combined: a continued run keeps the size of the model it starts from");
                string initConfig = Path.Combine(initDir, "config.json");
                if (!File.Exists(initConfig)) throw new NextStepException($"--init {initDir}: config.json not found (expected a model folder)");
                if (Path.GetFullPath(initConfig) != Path.Combine(dir, "config.json")) File.Copy(initConfig, Path.Combine(dir, "config.json"), overwrite: true);
            }
            else
                File.WriteAllText(Path.Combine(dir, "config.json"), DefaultModelRecipe.ConfigJson(p.GetValue(size) is { } z ? DefaultModelSize.Parse(z) : null).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            if (!File.Exists(Path.Combine(dir, SamplingProfile.FileName)))
                File.WriteAllText(Path.Combine(dir, SamplingProfile.FileName), DefaultModelRecipe.SamplingProfileJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            var config = NextStepConfig.Load(Path.Combine(dir, "config.json"));
            var tokenizer = Qwen2Tokenizer.Load(dir);

            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var vae = AutoencoderKL.Load(vaeOut, device: on);
            var cache = p.GetValue(latents);
            LatentDataset data;
            if (cache is not null && File.Exists(Path.Combine(cache, "captions.json")))
            {
                data = LatentDataset.Load(cache);
                bool known = data.CheckEncoder(vae, cache);
                stdout.WriteLine($"read {data.Captions.Count} encoded images from {cache}" + (known ? " (same encoder)" : " (the cache does not record its encoder: make sure it is this VAE's)"));
                if (p.GetResult(images) is { Implicit: false } || p.GetResult(firstImage) is { Implicit: false } || p.GetValue(mix) is not null)
                    stdout.WriteLine($"note: --images, --first-image and --category-mix choose the scenes only when {cache} is written; this run reads the {data.Captions.Count} scenes already there (give a new --latents folder for other scenes)");
            }
            else
            {
                if (p.GetValue(firstImage) < 0) throw new NextStepException($"--first-image {p.GetValue(firstImage)}: expected a scene index ≥ 0");
                if (categoryMix is not null) stdout.WriteLine($"category mix: {categoryMix}");
                data = DefaultModelRecipe.EncodeShapes(vae, 1, p.GetValue(images), batch: on.type == DeviceType.CUDA ? 512 : 8, first: p.GetValue(firstImage), mix: categoryMix, progress: n => { if (n % 1024 == 0) stdout.WriteLine($"encoded {n} images  {clock.Elapsed.TotalSeconds:F0} s"); });
                stdout.WriteLine($"encoded {data.Captions.Count} images in {clock.Elapsed.TotalSeconds:F0} s");
                if (cache is not null) data.Save(cache);
            }
            data = data.MoveTo(on);
            using var _ = data;

            using var model = p.GetValue(init) is { } from ? NextStepModel.Load(from, device: on) : DefaultModelRecipe.Initialise(config, p.GetValue(seed), on);
            stdout.WriteLine($"model: {model.parameters().Sum(t => t.numel()):N0} parameters");
            if (Objective.InputNoiseNote(model.Config) is { } noise) stdout.WriteLine(noise);
            var options = defaults with
            {
                Steps = p.GetValue(steps), MaxMinutes = p.GetValue(minutes), BatchSize = p.GetValue(batch), LearningRate = p.GetValue(lr),
                CaptionDropout = p.GetValue(dropout), Seed = p.GetValue(seed), SaveEvery = p.GetValue(saveEvery), EmaDecay = p.GetValue(ema),
                Freeze = p.GetValue(freeze)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [],
                SelfInputs = selfSampling,
            };
            if (options.SelfInputs is { Probability: > 0 } si) stdout.WriteLine($"self inputs: each input image token is the model's own sample of it with probability {si.Probability} ({si.Steps} Euler steps from t = {si.Start})");
            if (options.Freeze.Count > 0)
            {
                Objective.EnableTraining(model);
                DefaultModelRecipe.FreezeParameters(model, options.Freeze);
                stdout.WriteLine($"frozen: {string.Join(",", options.Freeze)}; {model.parameters().Where(t => t.requires_grad).Sum(t => t.numel()):N0} parameters train");
            }
            int every = p.GetValue(logEvery);
            (double L, double Lm, double Im) sum = (0, 0, 0);
            var run = DefaultModelRecipe.Train(model, tokenizer, vae.Config, data, options, s =>
            {
                sum = (sum.L + s.Loss, sum.Lm + s.Lm, sum.Im + s.Image);
                if (s.Step % every == 0)
                {
                    double seconds = s.Elapsed.TotalSeconds, rate = s.Step / seconds;
                    // The run ends at --steps or at --minutes, whichever comes first.
                    double left = (options.Steps - s.Step) / rate;
                    if (options.MaxMinutes is { } budget) left = Math.Min(left, budget * 60 - seconds);
                    var eta = TimeSpan.FromSeconds(Math.Max(0, left));
                    stdout.WriteLine($"step {s.Step}  loss {sum.L / every:F4}  ce {sum.Lm / every:F3}  fm {sum.Im / every:F4}  lr {s.LearningRate:E2}  {rate:F2} steps/s  ETA {eta:hh\\:mm\\:ss}  {clock.Elapsed.TotalSeconds:F0} s");
                    sum = (0, 0, 0);
                }
            }, (step, weights) => { DefaultModelRecipe.Save(weights, dir); stdout.WriteLine($"saved step {step} to {dir}"); });
            DefaultModelRecipe.Save(model, dir);
            var tail = run.Losses.TakeLast(Math.Min(every, run.Losses.Count)).ToList();
            stdout.WriteLine($"trained {run.Losses.Count} steps in {run.Elapsed.TotalMinutes:F1} min; last {tail.Count} steps: loss {tail.Average(l => l.Loss):F4}, ce {tail.Average(l => l.Lm):F3}, fm {tail.Average(l => l.Image):F4}");
            stdout.WriteLine($"wrote {dir}");
            return 0;
        });
        return cmd;
    }
}
