using System.Text.Json;
using NextStep.Imaging;
using NextStep.Pipeline;
using NextStep.Sampling;
using NextStep.Tests.Support;

namespace NextStep.Tests.Pipeline;

/// <summary>A pipeline case of a golden folder (tiny/golden, variants/hf, variants/v1.1): its request and its files.</summary>
public sealed record GoldenCase(string Folder, string Name, GenerationRequest Request, string? TokenizerFolder)
{
    public string GoldenFile => $"{Folder}/golden.safetensors";
    public string Key(string what) => $"pipe.{Name}.{what}";
    public override string ToString() => $"{Folder}:{Name}";

    public static readonly Dictionary<string, PipelineVariant> Variants = new()
    {
        ["tiny/golden"] = PipelineVariant.GitHub2025,
        ["variants/hf"] = PipelineVariant.HF,
        ["variants/v1.1"] = PipelineVariant.V11,
    };

    public static GoldenCase Get(string folder, string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path([.. folder.Split('/'), "cases.json"])));
        var c = doc.RootElement.GetProperty("cases").GetProperty("pipeline").EnumerateArray()
            .Single(e => e.GetProperty("name").GetString() == name);
        double D(string key, double fallback) => c.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        string? S(string key) => c.TryGetProperty(key, out var v) ? v.GetString() : null;
        int[] hw = c.TryGetProperty("hw", out var h) ? h.EnumerateArray().Select(e => e.GetInt32()).ToArray() : [64, 64];
        var request = new GenerationRequest
        {
            Captions = [S("caption")!],
            Images = S("image") is { } image ? [ImageIO.Load(Fixtures.Path("tiny", "golden", image))] : null,
            NumImagesPerCaption = (int)D("n_per_caption", 1),
            PositivePrompt = S("positive"),
            NegativePrompt = S("negative"),
            Height = hw[0],
            Width = hw[1],
            Cfg = D("cfg", 1),
            CfgImg = D("cfg_img", 1),
            CfgSchedule = S("cfg_schedule") == "linear" ? CfgSchedule.Linear : CfgSchedule.Constant,
            UseNorm = c.TryGetProperty("use_norm", out var n) && n.GetBoolean(),
            NumSamplingSteps = (int)D("steps", 20),
            TimestepsShift = D("shift", 1),
            Seed = (long)D("seed", 42),
            Variant = Variants[folder],
            SdeType = S("sde_type") ?? "sde",
            UseGenPosEmbed = c.TryGetProperty("use_gen_pos_embed", out var g) ? g.GetBoolean() : null,
            PreSeed = c.TryGetProperty("pre_seed", out var p) ? p.GetInt64() : null,
        };
        var tokenizer = S("tokenizer") is { } t ? Fixtures.Path([.. folder.Split('/'), t]) : null;
        return new GoldenCase(folder, name, request, tokenizer);
    }

    public static IEnumerable<object[]> All() =>
        from folder in Variants.Keys
        let names = Names(folder)
        from name in names
        select new object[] { folder, name };

    public static string[] Names(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path([.. folder.Split('/'), "cases.json"])));
        return doc.RootElement.GetProperty("cases").GetProperty("pipeline").EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToArray();
    }
}
