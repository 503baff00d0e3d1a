using System.CommandLine;
using System.Globalization;
using NextStep.Imaging;
using NextStep.Pipeline;
using NextStep.Sampling;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep generate</c> (and its alias <c>edit</c>): one prompt → one or more image files.</summary>
public static class GenerateCommand
{
    public static Command Create(string name, string description)
    {
        var model = new Option<string?>("--model") { Description = $"Model folder (config.json, model.safetensors, tokenizer.json, vae/); default: models/default" };
        var prompt = new Option<string>("--prompt") { Description = "The caption (for edits: the instruction)", Required = true };
        var positive = new Option<string?>("--positive") { Description = "Appended to the caption after one space" };
        var negative = new Option<string?>("--negative") { Description = "Negative prompt (the unconditional rows)" };
        var size = new Option<string?>("--size") { Description = "Output size HxW in pixels, multiples of 16 (default: the model's sampling_profile.json, else 256x256)" };
        var cfg = new Option<double?>("--cfg") { Description = "Text guidance scale (1 = off; default: the model's sampling_profile.json, else 1)" };
        var cfgImg = new Option<double>("--cfg-img") { Description = "Image guidance scale for edits (1 = off)", DefaultValueFactory = _ => 1.0 };
        var image = new Option<string?>("--image") { Description = "Input image to edit (PNG/JPEG); resized to --size when it differs" };
        var schedule = new Option<string>("--cfg-schedule") { Description = "constant or linear", DefaultValueFactory = _ => "constant" };
        var steps = new Option<int?>("--steps") { Description = "Flow-matching steps per image token (default: the model's sampling_profile.json, else 20)" };
        var shift = new Option<double?>("--shift") { Description = "Timesteps shift (default: the model's sampling_profile.json, else 1)" };
        var useNorm = new Option<bool?>("--use-norm") { Description = "LayerNorm each sampled token (NextStep-1-Large and -Edit; default: the model's sampling_profile.json, else off)" };
        var seed = new Option<long>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 42 };
        var count = new Option<int>("--count") { Description = "Images to generate (files get _0, _1, … suffixes)", DefaultValueFactory = _ => 1 };
        var sampler = new Option<string?>("--sampler") { Description = "hf, github2025 or v1.1 (default: from the checkpoint)" };
        var sdeType = new Option<string?>("--sde-type") { Description = "v1.1 sampler only: sde, cps or ode (default: the model's sampling_profile.json, else sde)" };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16", DefaultValueFactory = _ => "float32" };
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch" };
        var output = new Option<string>("--out") { Description = "Output file (.png, .jpg or .jpeg)", Required = true };

        var cmd = new Command(name, description);
        foreach (var o in new Option[] { model, prompt, positive, negative, size, cfg, cfgImg, image, schedule, steps, shift, useNorm, seed, count, sampler, sdeType, dtype, device, threads, output })
            cmd.Options.Add(o);

        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var outPath = parse.GetValue(output)!;
            ImageIO.FormatOf(outPath);
            var modelDir = parse.GetValue(model) ?? DefaultModel.Path;
            var profile = SamplingProfile.FromFile(modelDir);
            var (height, width) = parse.GetValue(size) is { } sizeText ? ParseSize(sizeText) : (profile?.Height ?? 256, profile?.Width ?? 256);
            int n = parse.GetValue(count);
            if (n < 1) throw new NextStepException($"--count {n}: must be at least 1");
            if (parse.GetValue(threads) is { } t)
            {
                if (t < 1) throw new NextStepException($"--threads {t}: must be at least 1");
                TorchSharp.torch.set_num_threads(t);
            }

            var caption = parse.GetValue(prompt)!;
            IReadOnlyList<RgbImage>? images = null;
            if (parse.GetValue(image) is { } imagePath)
            {
                images = [ImageResize.Bicubic(ImageIO.Load(imagePath), width, height)];
                if (!caption.Contains(GenerationRequest.ImageTag, StringComparison.Ordinal)) caption = GenerationRequest.ImageTag + caption;
            }
            long seedValue = parse.GetValue(seed);
            var request = new GenerationRequest
            {
                Captions = [caption],
                Images = images,
                NumImagesPerCaption = n,
                PositivePrompt = parse.GetValue(positive),
                NegativePrompt = parse.GetValue(negative),
                Height = height,
                Width = width,
                Cfg = parse.GetValue(cfg) ?? profile?.Cfg ?? 1.0,
                CfgImg = parse.GetValue(cfgImg),
                CfgSchedule = CfgSchedules.Parse(parse.GetValue(schedule)!.Trim().ToLowerInvariant()),
                NumSamplingSteps = parse.GetValue(steps) ?? profile?.NumSamplingSteps ?? 20,
                TimestepsShift = parse.GetValue(shift) ?? profile?.TimestepsShift ?? 1.0,
                UseNorm = parse.GetValue(useNorm) ?? profile?.UseNorm ?? false,
                Seed = seedValue,
                PreSeed = seedValue,
                Variant = parse.GetValue(sampler) is { } s ? GenerationRequest.ParseVariant(s) : null,
                SdeType = (parse.GetValue(sdeType) ?? profile?.SdeType ?? "sde").Trim().ToLowerInvariant(),
            };

            var options = new PipelineOptions { DType = PipelineOptions.ParseDType(parse.GetValue(dtype)!), Device = PipelineOptions.ParseDevice(parse.GetValue(device)!) };
            using var pipeline = NextStepPipeline.Load(modelDir, options);
            request.Validate(pipeline.DownFactor, request.Variant ?? pipeline.DefaultVariant);

            var progress = new SynchronousProgress<GenerationProgress>(p =>
            {
                if (p.Token == p.TotalTokens)
                    stdout.WriteLine($"sampled {p.TotalTokens} image tokens x {p.Images} image(s) in {p.Elapsed.TotalSeconds:F1} s ({p.TokensPerSecond:F1} tokens/s)");
            });
            var results = pipeline.Generate(request, progress);
            var metadata = new ImageMetadata
            {
                Prompt = parse.GetValue(prompt)!,
                Positive = request.PositivePrompt,
                Negative = request.NegativePrompt,
                Seed = request.Seed,
                Steps = request.NumSamplingSteps,
                Cfg = request.Cfg,
                CfgImg = request.CfgImg,
                CfgSchedule = request.CfgSchedule.ToString().ToLowerInvariant(),
                Shift = request.TimestepsShift,
                UseNorm = request.UseNorm,
                Width = width,
                Height = height,
                Sampler = GenerationRequest.Name(request.Variant ?? pipeline.DefaultVariant),
                Model = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDir))),
                ModelHash = ImageMetadata.ModelHashOf(modelDir),
                InputImage = parse.GetValue(image),
            };
            for (int i = 0; i < results.Count; i++)
            {
                var path = results.Count == 1 ? outPath : IndexedPath(outPath, i);
                ImageIO.Save(results[i], path, metadata with { Index = i });
                stdout.WriteLine($"wrote {path} ({results[i].Width}x{results[i].Height})");
            }
            return 0;
        });
        return cmd;
    }

    /// <summary><c>out.png</c> → <c>out_3.png</c>.</summary>
    public static string IndexedPath(string path, int index)
    {
        var ext = Path.GetExtension(path);
        return string.Concat(path.AsSpan(0, path.Length - ext.Length), $"_{index}", ext);
    }

    public static (int Height, int Width) ParseSize(string text)
    {
        var parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var h)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var w) && h > 0 && w > 0)
            return (h, w);
        throw new NextStepException($"--size \"{text}\": expected HxW in pixels, e.g. 512x512");
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
