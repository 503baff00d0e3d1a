using NextStep.Server.Generation;
using SkiaSharp;

namespace NextStep.Server.Api;

/// <summary>A validated generation or edit request: the job spec plus how the caller wants the result back.</summary>
public sealed record GenerationRequest(GenerationJobSpec Spec, string ResponseFormat)
{
    /// <summary>Named sampling settings from the paper's examples; explicit parameters override them.</summary>
    public sealed record Preset(int Steps, double Cfg, double CfgImg, double Shift, bool UseNorm, string? NegativePrompt);

    public static readonly IReadOnlyDictionary<string, Preset> Presets = new Dictionary<string, Preset>
    {
        ["t2i"] = new(50, 7.5, 1.0, 1.0, true, null),
        ["fast"] = new(28, 7.5, 1.0, 1.0, false, null),
        ["edit"] = new(50, 7.5, 2.0, 3.2, true, "Copy original image."),
    };

    /// <summary>Output sizes: the model's aspect-ratio grids at the 512-pixel scale, plus a small square for quick tries.</summary>
    public static readonly IReadOnlyList<string> Sizes = BuildSizes();

    private static List<string> BuildSizes()
    {
        (int W, int H)[] grids = [(512, 512), (480, 544), (448, 576), (416, 608), (384, 672), (352, 736), (320, 800), (288, 896), (256, 1024)];
        var sizes = new List<string> { "256x256" };
        foreach (var (w, h) in grids)
        {
            sizes.Add($"{w}x{h}");
            if (w != h) sizes.Add($"{h}x{w}");
        }
        return sizes;
    }

    /// <summary>The largest best-of-K the API accepts (each candidate costs one more sampled picture).</summary>
    public const int MaxCandidates = 16;

    private static readonly HashSet<string> OpenAiIgnored = ["model", "quality", "style", "user", "output_format"];
    private static readonly HashSet<string> Known =
        ["prompt", "negative_prompt", "n", "size", "response_format", "seed", "steps", "cfg", "cfg_img", "shift", "use_norm", "preset", "image", "candidates"];

    public static GenerationRequest Parse(RequestFields f, ServerOptions limits, byte[]? inputImage)
    {
        bool edit = inputImage is not null;
        foreach (var name in f.Names)
            if (!Known.Contains(name) && !OpenAiIgnored.Contains(name))
                throw ApiException.Invalid(name, $"unrecognized request argument '{name}'");
        if (f.String("output_format") is { } fmt && fmt != "png") throw ApiException.Invalid("output_format", "only 'png' output is supported");
        if (!edit && f.Names.Contains("image")) throw ApiException.Invalid("image", "send the input picture as a file in a multipart/form-data request");
        if (edit && f.Names.Contains("candidates")) throw ApiException.Invalid("candidates", "'candidates' (best of K) applies to text-to-image only, not to image edits");
        if (!edit && f.Names.Contains("cfg_img")) throw ApiException.Invalid("cfg_img", "'cfg_img' applies to image edits only (POST /v1/images/edits)");

        var prompt = f.String("prompt");
        if (string.IsNullOrWhiteSpace(prompt)) throw new ApiException(400, "'prompt' is required", "prompt", "missing_required_parameter");
        CheckLength("prompt", prompt, limits.MaxPromptLength);
        var negative = f.String("negative_prompt");
        if (negative is not null) CheckLength("negative_prompt", negative, limits.MaxPromptLength);

        var presetName = f.String("preset") ?? (edit ? "edit" : "t2i");
        if (!Presets.TryGetValue(presetName, out var preset))
            throw ApiException.Invalid("preset", $"unknown preset '{presetName}'; expected one of {string.Join(", ", Presets.Keys)}");

        var size = f.String("size") ?? "512x512";
        if (!Sizes.Contains(size)) throw ApiException.Invalid("size", $"size '{size}' is not supported; expected one of {string.Join(", ", Sizes)}");
        var wh = size.Split('x');

        var format = f.String("response_format") ?? "url";
        if (format is not ("url" or "b64_json")) throw ApiException.Invalid("response_format", $"'response_format' must be 'url' or 'b64_json', got '{format}'");

        var cfg = f.Number("cfg", 1, 20) ?? preset.Cfg;
        var cfgImg = edit ? f.Number("cfg_img", 1, 20) ?? preset.CfgImg : 1.0;
        if (cfg == 1 && cfgImg != 1) throw ApiException.Invalid("cfg_img", "'cfg_img' other than 1 needs 'cfg' other than 1");

        var spec = new GenerationJobSpec
        {
            Prompt = prompt,
            NegativePrompt = negative ?? preset.NegativePrompt,
            N = (int)(f.Integer("n", 1, limits.MaxN) ?? 1),
            Width = int.Parse(wh[0]),
            Height = int.Parse(wh[1]),
            Seed = f.Integer("seed", 0, uint.MaxValue) ?? Random.Shared.NextInt64(0, (long)uint.MaxValue + 1),
            Steps = (int)(f.Integer("steps", 2, limits.MaxSteps) ?? preset.Steps),
            Cfg = cfg,
            CfgImg = cfgImg,
            Shift = f.Number("shift", 0.1, 10) ?? preset.Shift,
            UseNorm = f.Bool("use_norm") ?? preset.UseNorm,
            Candidates = (int)(f.Integer("candidates", 1, MaxCandidates) ?? 1),
            Preset = presetName,
            InputImage = inputImage,
        };
        return new GenerationRequest(spec, format);
    }

    private static void CheckLength(string name, string value, int max)
    {
        if (value.Length > max) throw ApiException.Invalid(name, $"'{name}' is {value.Length} characters long; the limit is {max}");
    }

    /// <summary>Checks that an uploaded picture decodes and is not oversized.</summary>
    public static void CheckImage(byte[] bytes, int maxSide)
    {
        using var codec = SKCodec.Create(new SKMemoryStream(bytes));
        if (codec is null) throw ApiException.Invalid("image", "'image' could not be decoded; send a PNG, JPEG or WebP file");
        var info = codec.Info;
        if (info.Width < 16 || info.Height < 16 || info.Width > maxSide || info.Height > maxSide)
            throw ApiException.Invalid("image", $"'image' is {info.Width}x{info.Height}; each side must be between 16 and {maxSide} pixels");
    }
}
