using NextStep.Server.Jobs;

namespace NextStep.Server.Api;

/// <summary>The JSON shape of a job in the async API and the web UI's history.</summary>
public static class JobView
{
    public static object Of(JobRecord j, string baseUrl) => new
    {
        id = j.Id,
        @object = "image.job",
        created = j.CreatedAt / 1000,
        kind = j.Kind,
        state = j.State,
        progress = new { done = j.ProgressDone, total = j.ProgressTotal },
        attempts = j.Attempts,
        error = j.Error is null ? null : new { message = j.Error },
        finished = j.FinishedAt / 1000,
        @params = Params(j),
        images = Enumerable.Range(0, j.ImageCount).Select(i => new { url = $"{baseUrl}/v1/images/{ImageFile(j.Id, i)}" }).ToArray(),
    };

    public static object Params(JobRecord j) => new
    {
        prompt = j.Spec.Prompt,
        negative_prompt = j.Spec.NegativePrompt,
        n = j.Spec.N,
        size = $"{j.Spec.Width}x{j.Spec.Height}",
        seed = j.Spec.Seed,
        steps = j.Spec.Steps,
        cfg = j.Spec.Cfg,
        cfg_img = j.Spec.CfgImg,
        shift = j.Spec.Shift,
        use_norm = j.Spec.UseNorm,
        candidates = j.Spec.Candidates,
        preset = j.Spec.Preset,
    };

    public static string ImageFile(string jobId, int index) => $"{jobId}-{index}.png";

    /// <summary>Splits "{jobId}-{index}.png"; null for anything else.</summary>
    public static (string JobId, int Index)? ParseImageFile(string file)
    {
        if (!file.EndsWith(".png", StringComparison.Ordinal)) return null;
        var stem = file[..^4];
        var dash = stem.LastIndexOf('-');
        if (dash <= 0 || !int.TryParse(stem[(dash + 1)..], out var index) || index < 0) return null;
        var id = stem[..dash];
        return IsJobId(id) ? (id, index) : null;
    }

    public static string NewId() => Guid.NewGuid().ToString("N");
    public static bool IsJobId(string s) => s.Length == 32 && s.All(char.IsAsciiHexDigitLower);
}
