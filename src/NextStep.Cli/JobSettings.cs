using System.Globalization;
using NextStep.Imaging;
using NextStep.Pipeline;
using NextStep.Sampling;

namespace NextStep.Cli;

/// <summary>
/// Everything one generate call needs, before the model is loaded. <c>generate</c> fills it from flags (over
/// <c>--from</c> metadata and a preset), <c>batch</c> from the batch file's settings and items.
/// </summary>
public sealed record JobSettings
{
    public string? Prompt { get; init; }
    public string? Positive { get; init; }
    public string? Negative { get; init; }
    public int Height { get; init; } = 256;
    public int Width { get; init; } = 256;
    public double Cfg { get; init; } = 1.0;
    public double CfgImg { get; init; } = 1.0;
    public string CfgSchedule { get; init; } = "constant";
    public int Steps { get; init; } = 20;
    public double Shift { get; init; } = 1.0;
    public bool UseNorm { get; init; }
    public long Seed { get; init; } = 42;
    public int Count { get; init; } = 1;
    /// <summary>Best of K per image (<see cref="GenerationRequest.Candidates"/>).</summary>
    public int Candidates { get; init; } = 1;
    /// <summary>Which of the <see cref="Count"/> images to keep (null = all); set by <c>--from</c> on an image that was one of several.</summary>
    public int? KeepIndex { get; init; }
    /// <summary>null = the checkpoint's default sampler.</summary>
    public string? Sampler { get; init; }
    public string SdeType { get; init; } = "sde";
    /// <summary>Input image to edit (null = text to image).</summary>
    public string? Image { get; init; }
    /// <summary>Retry with seed+1, seed+2, … while an image's <see cref="QualityScore.Overall"/> is below this (null = no check).</summary>
    public double? MinQuality { get; init; }
    public int Retries { get; init; }

    /// <summary>The parameters stored in an image, for <c>generate --from</c>.</summary>
    public static JobSettings From(ImageMetadata m) => new()
    {
        Prompt = m.Prompt, Positive = m.Positive, Negative = m.Negative, Height = m.Height, Width = m.Width,
        Cfg = m.Cfg, CfgImg = m.CfgImg, CfgSchedule = m.CfgSchedule, Steps = m.Steps, Shift = m.Shift, UseNorm = m.UseNorm,
        Seed = m.Seed ?? 42, Count = m.Count, Candidates = m.Candidates, KeepIndex = m.Count > 1 ? m.Index : null, Sampler = m.Sampler, Image = m.InputImage,
    };

    /// <summary>The defaults a model folder states in its <c>sampling_profile.json</c> (<see cref="NextStep.Sampling.SamplingProfile.FromFile"/>).</summary>
    public JobSettings With(NextStep.Sampling.SamplingProfile p) => this with
    {
        Height = p.Height, Width = p.Width, Steps = p.NumSamplingSteps, Cfg = p.Cfg, CfgImg = p.CfgImg, Shift = p.TimestepsShift,
        UseNorm = p.UseNorm, Sampler = p.Sampler, SdeType = p.SdeType, Candidates = p.Candidates,
    };

    public JobSettings With(Preset p) => this with { Height = p.Size, Width = p.Size, Steps = p.Steps, Cfg = p.Cfg };

    /// <summary>The official grid nearest to the ratio, at about the current area.</summary>
    public JobSettings WithAspect(string aspect, int downFactor)
    {
        var (h, w) = Presets.ForAspect(aspect, (int)Math.Round(Math.Sqrt((double)Height * Width)), downFactor);
        return this with { Height = h, Width = w };
    }

    /// <summary>Checks the values the pipeline does not (it checks the request itself in <see cref="ToRequest"/>).</summary>
    public void Validate(ModelInfo model, bool editing)
    {
        if (string.IsNullOrEmpty(Prompt)) throw new NextStepException("prompt: missing (give --prompt TEXT, or --from IMAGE)");
        if (Count < 1) throw new NextStepException($"count = {Count}: must be at least 1");
        if (Retries < 0) throw new NextStepException($"retries = {Retries}: must be 0 or more");
        if (MinQuality is { } q && !(q >= 0 && q <= 1)) throw new NextStepException($"min_quality = {q.ToString(CultureInfo.InvariantCulture)}: must be between 0 and 1");
        if (editing && Image is null) throw new NextStepException("editing needs an input image (--image FILE)");
        if (Image is not null && !File.Exists(Image)) throw new NextStepException($"{Image}: image file not found");
        int d = model.DownFactor;
        var request = ToRequest(Image is null ? null : new RgbImage(d, d, new byte[d * d * 3]));
        request.Validate(model.DownFactor, request.Variant ?? model.DefaultVariant);
    }

    /// <summary>The input image loaded and resized to the output size (null for text to image).</summary>
    public RgbImage? LoadImage() => Image is null ? null : ImageResize.Bicubic(ImageIO.Load(Image), Width, Height);

    /// <summary>The pipeline request, with the (loaded) input image when editing.</summary>
    public GenerationRequest ToRequest(RgbImage? image)
    {
        var caption = Prompt ?? "";
        IReadOnlyList<RgbImage>? images = null;
        if (image is not null)
        {
            images = [image];
            caption = GenerationRequest.EditCaption(caption);
        }
        return new GenerationRequest
        {
            Captions = [caption],
            Images = images,
            NumImagesPerCaption = Count,
            Candidates = Candidates,
            PositivePrompt = Positive,
            NegativePrompt = Negative,
            Height = Height,
            Width = Width,
            Cfg = Cfg,
            CfgImg = CfgImg,
            CfgSchedule = CfgSchedules.Parse(CfgSchedule.Trim().ToLowerInvariant()),
            NumSamplingSteps = Steps,
            TimestepsShift = Shift,
            UseNorm = UseNorm,
            Seed = Seed,
            PreSeed = Seed,
            Variant = Sampler is { } s ? GenerationRequest.ParseVariant(s) : null,
            SdeType = SdeType.Trim().ToLowerInvariant(),
        };
    }

    public static (int Height, int Width) ParseSize(string text, string what = "--size")
    {
        var parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var h)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var w) && h > 0 && w > 0)
            return (h, w);
        throw new NextStepException($"{what} \"{text}\": expected HxW in pixels, e.g. 512x512");
    }
}

/// <summary>What the commands need to know about a model folder before loading its weights.</summary>
public sealed record ModelInfo(string Folder, int DownFactor, PipelineVariant DefaultVariant, bool FullSize)
{
    /// <summary>Hidden size from which a model counts as full-size for <see cref="Presets"/> (NextStep-1 has 5120).</summary>
    public const int FullSizeHidden = 2048;

    public static ModelInfo Of(string folder)
    {
        var (down, variant) = NextStepPipeline.Describe(folder);
        var config = Config.NextStepConfig.Load(Path.Combine(folder, "config.json"));
        return new ModelInfo(folder, down, variant, config.HiddenSize >= FullSizeHidden);
    }

    public string Name => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(Folder)));
}
