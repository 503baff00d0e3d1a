using System.CommandLine;
using NextStep.Imaging;
using NextStep.Pipeline;

namespace NextStep.Cli.Commands;

/// <summary>
/// <c>nextstep generate</c> (and <c>edit</c>): one prompt → one or more image files. Settings come from, lowest
/// first: the defaults, <c>--from IMAGE</c>, <c>--preset</c>, <c>--aspect</c>, then the flags given explicitly.
/// </summary>
public static class GenerateCommand
{
    /// <summary>What best of K keeps (generate and eval share it).</summary>
    public const string CandidatesDescription = "Best of K: sample K images per output and keep the one the model folder's detector/ (and its tie-breaker) finds every claim of the caption in, in the most views; among those, the one whose caption the model itself finds most likely after the decoded picture (plus the detector's confidence where its config.json says order_by_confidence) (default: the model's profile, else 1)";

    public static Command Create(string name, string description)
    {
        var model = new Option<string?>("--model") { Description = "Model folder (config.json, model.safetensors, tokenizer.json, vae/); default: models/default" };
        var from = new Option<string?>("--from") { Description = "Re-run the parameters stored in this image (explicit flags override them)" };
        var prompt = new Option<string?>("--prompt") { Description = "The caption (for edits: the instruction); required unless --from" };
        var positive = new Option<string?>("--positive") { Description = "Appended to the caption after one space" };
        var negative = new Option<string?>("--negative") { Description = "Negative prompt (the unconditional rows)" };
        var preset = new Option<string?>("--preset") { Description = "draft, standard or premium: size, steps and cfg (scaled down for small models)" };
        var size = new Option<string?>("--size") { Description = "Output size HxW in pixels, multiples of the model's down factor (16); default 256x256" };
        var aspect = new Option<string?>("--aspect") { Description = "Aspect ratio W:H, e.g. 16:9: the nearest official size at the area of --size or the preset" };
        var cfg = new Option<double?>("--cfg") { Description = "Text guidance scale, ≥ 1 (1 = off; default 1)" };
        var cfgImg = new Option<double?>("--cfg-img") { Description = "Image guidance scale for edits, ≥ 1 (default 1 = off)" };
        var image = new Option<string?>("--image") { Description = "Input image to edit (PNG/JPEG); resized to the output size" };
        var schedule = new Option<string?>("--cfg-schedule") { Description = "constant (default) or linear" };
        var steps = new Option<int?>("--steps") { Description = "Flow-matching steps per image token (default 20)" };
        var shift = new Option<double?>("--shift") { Description = "Timesteps shift (default 1)" };
        var useNorm = new Option<bool>("--use-norm") { Description = "LayerNorm each sampled token (NextStep-1-Large and -Edit)" };
        var seed = new Option<long?>("--seed") { Description = "Random seed (default 42)" };
        var count = new Option<int?>("--count") { Description = "Images to generate (files get _0, _1, … suffixes); default 1" };
        var candidates = new Option<int?>("--candidates") { Description = CandidatesDescription };
        var sampler = new Option<string?>("--sampler") { Description = "hf, github2025 or v1.1 (default: from the checkpoint)" };
        var sdeType = new Option<string?>("--sde-type") { Description = "v1.1 sampler only: sde (default), cps or ode" };
        var minQuality = new Option<double?>("--min-quality") { Description = "Quality threshold 0..1 (nextstep score's overall): retry below it with seed+1, seed+2, …" };
        var retries = new Option<int?>("--retries") { Description = "Extra tries for --min-quality (default 3)" };
        var metadata = new Option<string>("--metadata") { Description = "png: parameters in the PNG text chunks; json: also a .json sidecar", DefaultValueFactory = _ => "png" };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16", DefaultValueFactory = _ => "float32" };
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch (default: the physical cores)" };
        var quantize = new Option<string?>("--quantize") { Description = "int8: weight-only int8 backbone (linear layers and embeddings, per-row scales)" };
        var output = new Option<string>("--out") { Description = "Output file (.png, .jpg or .jpeg)", Required = true };

        var cmd = new Command(name, description);
        foreach (var o in new Option[] { model, from, prompt, positive, negative, preset, size, aspect, cfg, cfgImg, image, schedule, steps, shift, useNorm, seed, count, candidates, sampler, sdeType, minQuality, retries, metadata, dtype, device, threads, quantize, output })
            cmd.Options.Add(o);

        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var outPath = parse.GetValue(output)!;
            ImageIO.FormatOf(outPath);
            bool sidecar = ParseMetadataMode(parse.GetValue(metadata)!);
            var modelInfo = ModelInfo.Of(parse.GetValue(model) ?? DefaultModel.Path);
            ApplyThreads(parse.GetValue(threads));

            var job = NextStep.Sampling.SamplingProfile.FromFile(modelInfo.Folder) is { } own ? new JobSettings().With(own) : new JobSettings();
            if (parse.GetValue(from) is { } fromPath)
            {
                var stored = ImageMetadata.Read(fromPath);
                job = JobSettings.From(stored);
                if (stored.ModelHash is { } h && parse.GetValue(model) is null && h != ImageMetadata.ModelHashOf(modelInfo.Folder))
                    stdout.WriteLine($"warning: {fromPath} was made with model {stored.Model} ({h}); this run uses {modelInfo.Name}, pixels will differ");
            }
            if (parse.GetValue(preset) is { } p) job = job.With(Presets.Get(p.Trim().ToLowerInvariant(), modelInfo.FullSize));
            if (parse.GetValue(size) is { } s)
            {
                var (h, w) = JobSettings.ParseSize(s);
                job = job with { Height = h, Width = w };
            }
            if (parse.GetValue(aspect) is { } a) job = job.WithAspect(a, modelInfo.DownFactor);
            job = job with
            {
                Prompt = parse.GetValue(prompt) ?? job.Prompt,
                Positive = parse.GetValue(positive) ?? job.Positive,
                Negative = parse.GetValue(negative) ?? job.Negative,
                Cfg = parse.GetValue(cfg) ?? job.Cfg,
                CfgImg = parse.GetValue(cfgImg) ?? job.CfgImg,
                Image = parse.GetValue(image) ?? job.Image,
                CfgSchedule = parse.GetValue(schedule) ?? job.CfgSchedule,
                Steps = parse.GetValue(steps) ?? job.Steps,
                Shift = parse.GetValue(shift) ?? job.Shift,
                UseNorm = parse.GetValue(useNorm) || job.UseNorm,
                Seed = parse.GetValue(seed) ?? job.Seed,
                Count = parse.GetValue(count) ?? job.Count,
                Candidates = parse.GetValue(candidates) ?? job.Candidates,
                KeepIndex = parse.GetValue(count) is null ? job.KeepIndex : null,
                Sampler = parse.GetValue(sampler) ?? job.Sampler,
                SdeType = parse.GetValue(sdeType) ?? job.SdeType,
                MinQuality = parse.GetValue(minQuality),
                Retries = parse.GetValue(retries) ?? (parse.GetValue(minQuality) is null ? 0 : 3),
            };
            if (name == "edit" && job.Image is null) throw new NextStepException("'nextstep edit' needs --image FILE (the image to edit)");
            job.Validate(modelInfo, editing: name == "edit");

            using var runner = new GenerateRunner(modelInfo, Options(parse.GetValue(dtype)!, parse.GetValue(device)!, parse.GetValue(quantize)));
            using var ctrlC = new CtrlC();
            return ProgressDisplay.Run(stdout, display =>
            {
                foreach (var img in runner.Run(job, outPath, sidecar, display, "generate", ctrlC.Token))
                {
                    display.Line($"wrote {img.Path} (seed {img.Seed}, quality {img.Quality:F3}{(img.Attempt > 1 ? $", try {img.Attempt}" : "")})");
                    if (!img.MetMinQuality) display.Line($"warning: {img.Path}: quality {img.Quality:F3} stays below --min-quality {job.MinQuality:F3} after {1 + job.Retries} tries (kept the best)");
                }
                return 0;
            });
        });
        return cmd;
    }

    public static bool ParseMetadataMode(string text) => text.Trim().ToLowerInvariant() switch
    {
        "png" => false,
        "json" => true,
        _ => throw new NextStepException($"--metadata \"{text}\": expected png or json"),
    };

    public static PipelineOptions Options(string dtype, string device, string? quantize = null) => new()
    {
        DType = PipelineOptions.ParseDType(dtype),
        Device = PipelineOptions.ParseDevice(device),
        Int8 = quantize switch
        {
            null => false,
            "int8" => true,
            _ => throw new NextStepException($"--quantize \"{quantize}\" is not supported (expected int8)"),
        },
    };

    /// <summary>Sets libtorch's thread count: <paramref name="threads"/>, or the physical cores when not given.</summary>
    public static void ApplyThreads(int? threads)
    {
        int t = threads ?? NextStep.Benchmarks.ProcessStats.PhysicalCores;
        if (t < 1) throw new NextStepException($"--threads {t}: must be at least 1");
        TorchSharp.torch.set_num_threads(t);
    }
}
