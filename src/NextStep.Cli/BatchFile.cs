using System.Globalization;
using System.Text.Json;
using NextStep.Pipeline;

namespace NextStep.Cli;

/// <summary>One batch item: its settings, or why it cannot run (the other items still run).</summary>
public sealed record BatchItem(int Index, string Prompt, string File, JobSettings? Job, string? Error);

/// <summary>
/// A batch file: <c>{"prompts": [...], "settings": {...}}</c>. An item is a prompt string or an object with
/// <c>prompt</c> and any settings field, which overrides <c>settings</c>. Item i without its own seed uses
/// seed + i (seed from settings, default 42). Relative <c>image</c> paths are resolved against the file's folder.
/// </summary>
public static class BatchFile
{
    private static readonly string[] SettingFields =
        ["preset", "quality", "size", "aspect", "steps", "guidance", "image_guidance", "cfg_schedule", "shift", "use_norm",
         "seed", "negative", "positive", "sampler", "image", "min_quality", "retries", "candidates"];
    private static readonly string[] ItemFields = ["prompt", "name", .. SettingFields];

    /// <summary>
    /// Reads and checks the file. Errors in the file as a whole (not JSON, no <c>prompts</c>, a bad <c>settings</c>)
    /// throw; an item's error (naming <c>prompts[i].field</c>) is kept in its <see cref="BatchItem.Error"/>.
    /// </summary>
    public static IReadOnlyList<BatchItem> Load(string path, ModelInfo model, JobSettings defaults)
    {
        if (!System.IO.File.Exists(path)) throw new NextStepException($"{path}: batch file not found");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(System.IO.File.ReadAllText(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e) { throw new NextStepException($"{path}: not valid JSON ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new NextStepException($"{path}: expected an object {{\"prompts\": [...], \"settings\": {{...}}}}");
            foreach (var p in root.EnumerateObject())
                if (p.Name is not ("prompts" or "settings")) throw new NextStepException($"{path}: {p.Name}: unknown field (expected prompts and settings)");
            if (!root.TryGetProperty("prompts", out var prompts) || prompts.ValueKind != JsonValueKind.Array || prompts.GetArrayLength() == 0)
                throw new NextStepException($"{path}: prompts: expected a non-empty array of prompts (strings or objects with \"prompt\")");

            var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            var settings = defaults;
            if (root.TryGetProperty("settings", out var s))
            {
                if (s.ValueKind != JsonValueKind.Object) throw new NextStepException($"{path}: settings: expected an object");
                try { settings = Apply(settings, s, "settings", SettingFields, model, folder); }
                catch (NextStepException e) { throw new NextStepException($"{path}: {e.Message}"); }
            }

            var items = new List<BatchItem>();
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            int index = 0;
            foreach (var element in prompts.EnumerateArray())
            {
                var where = $"prompts[{index}]";
                string prompt = "", file = $"{index:D3}.png";
                try
                {
                    var job = settings with { Seed = settings.Seed + index };
                    if (element.ValueKind == JsonValueKind.String) job = job with { Prompt = element.GetString() };
                    else if (element.ValueKind == JsonValueKind.Object)
                    {
                        job = Apply(job, element, where, ItemFields, model, folder);
                        if (element.TryGetProperty("name", out var n)) file = FileName(Text(n, where + ".name"), where);
                    }
                    else throw new NextStepException($"{where}: expected a prompt string or an object with \"prompt\"");
                    prompt = job.Prompt ?? "";
                    if (string.IsNullOrWhiteSpace(job.Prompt)) throw new NextStepException($"{where}.prompt: missing or empty");
                    if (!names.Add(file)) throw new NextStepException($"{where}.name: \"{file}\" is already used by an earlier item");
                    try { job.Validate(model, editing: false); }
                    catch (NextStepException e) { throw new NextStepException($"{where}: {e.Message}"); }
                    items.Add(new BatchItem(index, prompt, file, job, null));
                }
                catch (NextStepException e) { items.Add(new BatchItem(index, prompt, file, null, e.Message)); }
                index++;
            }
            return items;
        }
    }

    private static JobSettings Apply(JobSettings job, JsonElement obj, string where, string[] allowed, ModelInfo model, string folder)
    {
        foreach (var p in obj.EnumerateObject())
            if (!allowed.Contains(p.Name)) throw new NextStepException($"{where}.{p.Name}: unknown field (expected one of {string.Join(", ", allowed)})");
        string F(string name) => $"{where}.{name}";
        bool Has(string name, out JsonElement v) => obj.TryGetProperty(name, out v) && v.ValueKind != JsonValueKind.Null;

        if (Has("preset", out var preset) && Has("quality", out _)) throw new NextStepException($"{where}: give preset or quality, not both");
        if (Has("preset", out preset) || Has("quality", out preset))
            job = job.With(Presets.Get(Text(preset, F("preset")).Trim().ToLowerInvariant(), model.FullSize));
        if (Has("size", out var size))
        {
            var (h, w) = size.ValueKind == JsonValueKind.Number ? (Int(size, F("size"), 1), Int(size, F("size"), 1)) : JobSettings.ParseSize(Text(size, F("size")), F("size"));
            job = job with { Height = h, Width = w };
        }
        if (Has("aspect", out var aspect)) job = job.WithAspect(Text(aspect, F("aspect")), model.DownFactor);
        if (Has("prompt", out var v)) job = job with { Prompt = Text(v, F("prompt")) };
        if (Has("steps", out v)) job = job with { Steps = Int(v, F("steps"), 1) };
        if (Has("guidance", out v)) job = job with { Cfg = Number(v, F("guidance"), 1) };
        if (Has("image_guidance", out v)) job = job with { CfgImg = Number(v, F("image_guidance"), 1) };
        if (Has("cfg_schedule", out v)) job = job with { CfgSchedule = Text(v, F("cfg_schedule")) };
        if (Has("shift", out v)) job = job with { Shift = Number(v, F("shift"), 0) };
        if (Has("use_norm", out v)) job = job with { UseNorm = v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw new NextStepException($"{F("use_norm")}: expected true or false") };
        if (Has("seed", out v)) job = job with { Seed = v.TryGetInt64(out var seed) ? seed : throw new NextStepException($"{F("seed")}: expected an integer, got {v.GetRawText()}") };
        if (Has("negative", out v)) job = job with { Negative = Text(v, F("negative")) };
        if (Has("positive", out v)) job = job with { Positive = Text(v, F("positive")) };
        if (Has("sampler", out v)) job = job with { Sampler = GenerationRequest.Name(GenerationRequest.ParseVariant(Text(v, F("sampler")))) };
        if (Has("image", out v))
        {
            var image = Path.Combine(folder, Text(v, F("image")));
            job = job with { Image = System.IO.File.Exists(image) ? image : throw new NextStepException($"{F("image")}: {image}: image file not found") };
        }
        if (Has("candidates", out v)) job = job with { Candidates = Int(v, F("candidates"), 1) };
        if (Has("min_quality", out v)) job = job with { MinQuality = Number(v, F("min_quality"), 0) };
        if (Has("retries", out v)) job = job with { Retries = Int(v, F("retries"), 0) };
        return job;
    }

    private static string Text(JsonElement v, string field) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new NextStepException($"{field}: expected a string, got {v.GetRawText()}");

    private static int Int(JsonElement v, string field, int min) =>
        v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var i) ? throw new NextStepException($"{field}: expected an integer, got {v.GetRawText()}")
        : i < min ? throw new NextStepException($"{field} = {i}: must be at least {min}") : i;

    private static double Number(JsonElement v, string field, double min) =>
        v.ValueKind != JsonValueKind.Number ? throw new NextStepException($"{field}: expected a number, got {v.GetRawText()}")
        : v.GetDouble() is var d && d >= min && double.IsFinite(d) ? d
        : throw new NextStepException($"{field} = {d.ToString(CultureInfo.InvariantCulture)}: must be a finite number ≥ {min.ToString(CultureInfo.InvariantCulture)}");

    private static string FileName(string name, string where)
    {
        if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name is "." or ".." || name.Equals("report", StringComparison.OrdinalIgnoreCase))
            throw new NextStepException($"{where}.name: \"{name}\" is not a usable file name (no folders; \"report\" is taken)");
        return name + ".png";
    }
}
