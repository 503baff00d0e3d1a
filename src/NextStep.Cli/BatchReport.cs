using System.Text.Json;
using System.Text.Json.Serialization;

namespace NextStep.Cli;

/// <summary>One line of <c>report.json</c>. Status: ok, below_min_quality (kept the best try) or failed.</summary>
public sealed record BatchReportItem(int Index, string Prompt, string File, long? Seed, int? Attempt, double? TimeS, double? Quality, string Status, string? Error)
{
    [JsonIgnore]
    public bool Done => Status is "ok" or "below_min_quality";
}

/// <summary><c>report.json</c> of a batch output folder; rewritten after every item, read by <c>--resume</c>.</summary>
public sealed record BatchReport(string Batch, string Model, string ModelHash, IReadOnlyList<BatchReportItem> Items)
{
    public const string FileName = "report.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public void Save(string folder)
    {
        var path = Path.Combine(folder, FileName);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(this, Json));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The report in <paramref name="folder"/>, or null when there is none.</summary>
    public static BatchReport? Read(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<BatchReport>(File.ReadAllText(path), Json) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw new NextStepException($"{path}: not a batch report ({e.Message}); delete it or run without --resume"); }
    }
}
