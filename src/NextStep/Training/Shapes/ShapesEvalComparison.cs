using System.Text.Json;

namespace NextStep.Training.Shapes;

/// <summary>One scored image of a report: its prompt, category, seed, verdict and the held-out combinations its prompt claims (null when none, or in reports written before eval recorded them).</summary>
public sealed record ShapesEvalOutcome(string Caption, ShapesCategory Category, int Seed, bool Correct, IReadOnlyList<string>? HeldOut = null);

/// <summary>
/// The images of one or more report.json files of the same prompt set (e.g. seeds 0–3 and 4–7 of one model), keyed by
/// (caption, seed).
/// </summary>
public sealed record PooledShapesEval(string PromptSet, IReadOnlyDictionary<(string Caption, int Seed), ShapesEvalOutcome> Items);

/// <summary>
/// One row of a paired comparison: accuracy of both sides on the images they share, how many images only the candidate
/// got right (<see cref="Gained"/>) or only the base got right (<see cref="Lost"/>), and the two-sided exact sign-test
/// p-value of that split. <see cref="Category"/> is null for the overall row (mean of the category accuracies) and for
/// the rows of <see cref="ShapesEvalComparison.CompareHeldOut"/>, which set <see cref="Combination"/>.
/// </summary>
public sealed record ShapesEvalComparisonRow(ShapesCategory? Category, int Images, double Base, double Candidate, int Gained, int Lost, double SignTestP)
{
    /// <summary>The held-out combination of a <see cref="ShapesEvalComparison.CompareHeldOut"/> row ("green star").</summary>
    public string? Combination { get; init; }
}

/// <summary>
/// Paired comparison of two models' Shapes eval reports on the same prompts and seeds: the numbers behind "keep these
/// weights or not" (docs/training.md). Pairing removes the prompt-to-prompt spread that makes two unpaired accuracies
/// of a few hundred images hard to tell apart.
/// </summary>
public static class ShapesEvalComparison
{
    /// <summary>Reads and pools report.json files (each path a report.json or a folder holding one).</summary>
    public static PooledShapesEval Load(IEnumerable<string> paths)
    {
        string? promptSet = null, firstPath = null;
        var seen = new Dictionary<(string, int), (ShapesEvalOutcome Outcome, string Path)>();
        foreach (var given in paths)
        {
            var path = Directory.Exists(given) ? Path.Combine(given, "report.json") : given;
            var (set, outcomes) = Read(path);
            if (promptSet is not null && set != promptSet)
                throw new NextStepException($"{path}: prompt set \"{set}\" cannot be pooled with \"{promptSet}\" of {firstPath}");
            promptSet ??= set;
            firstPath ??= path;
            foreach (var o in outcomes)
            {
                var key = (o.Caption, o.Seed);
                if (seen.TryGetValue(key, out var other))
                    throw new NextStepException($"{path}: \"{o.Caption}\" with seed {o.Seed} is also in {other.Path} (pool reports of disjoint seeds, e.g. eval --first-seed)");
                seen[key] = (o, path);
            }
        }
        if (promptSet is null) throw new NextStepException("no report given (expected report.json files or eval folders)");
        return new PooledShapesEval(promptSet, seen.ToDictionary(kv => kv.Key, kv => kv.Value.Outcome));
    }

    /// <summary>Rows per category (in category order) and an overall row last, over the images both sides have.</summary>
    public static IReadOnlyList<ShapesEvalComparisonRow> Compare(PooledShapesEval baseline, PooledShapesEval candidate)
    {
        var pairs = Pairs(baseline, candidate);
        var rows = pairs.GroupBy(p => p.Base.Category).OrderBy(g => g.Key).Select(g => Row(g.Key, g.ToList())).ToList();
        int gained = rows.Sum(r => r.Gained), lost = rows.Sum(r => r.Lost);
        rows.Add(new ShapesEvalComparisonRow(null, pairs.Count, rows.Average(r => r.Base), rows.Average(r => r.Candidate), gained, lost, SignTest(gained, lost)));
        return rows;
    }

    /// <summary>
    /// A row per held-out combination the shared images' prompts claim (in the split's order; a prompt claiming two
    /// counts for both), as the base's report records them; empty for reports without held-out prompts.
    /// </summary>
    public static IReadOnlyList<ShapesEvalComparisonRow> CompareHeldOut(PooledShapesEval baseline, PooledShapesEval candidate)
    {
        var pairs = Pairs(baseline, candidate);
        return ShapesSplits.CombinationNames
            .Select(c => (Name: c, Pairs: pairs.Where(p => p.Base.HeldOut?.Contains(c) == true).ToList()))
            .Where(t => t.Pairs.Count > 0)
            .Select(t => Row(null, t.Pairs) with { Combination = t.Name })
            .ToList();
    }

    private static List<(ShapesEvalOutcome Base, ShapesEvalOutcome Candidate)> Pairs(PooledShapesEval baseline, PooledShapesEval candidate)
    {
        if (baseline.PromptSet != candidate.PromptSet)
            throw new NextStepException($"the base is prompt set \"{baseline.PromptSet}\" and the candidate \"{candidate.PromptSet}\": compare reports of the same prompt set");
        var pairs = baseline.Items.Where(kv => candidate.Items.ContainsKey(kv.Key))
            .Select(kv => (Base: kv.Value, Candidate: candidate.Items[kv.Key])).ToList();
        if (pairs.Count == 0)
            throw new NextStepException("the two sides share no image (same caption and seed): were they made with the same prompts and seeds?");
        var mismatch = pairs.FirstOrDefault(p => p.Base.Category != p.Candidate.Category);
        if (mismatch.Base is not null)
            throw new NextStepException($"\"{mismatch.Base.Caption}\" is category {ShapesVocabulary.Name(mismatch.Base.Category)} in the base and {ShapesVocabulary.Name(mismatch.Candidate.Category)} in the candidate");
        return pairs;
    }

    /// <summary>Two-sided exact sign test: the chance of a split at least this uneven when both outcomes are equally likely.</summary>
    public static double SignTest(int gained, int lost)
    {
        if (gained < 0 || lost < 0) throw new ArgumentOutOfRangeException(nameof(gained), "counts must be 0 or more");
        int n = gained + lost, k = Math.Min(gained, lost);
        if (n == 0 || gained == lost) return 1.0;
        // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so that large n does not underflow.
        double logPmf = -n * Math.Log(2), logTail = logPmf;
        for (int i = 0; i < k; i++)
        {
            logPmf += Math.Log(n - i) - Math.Log(i + 1);
            double hi = Math.Max(logTail, logPmf);
            logTail = hi + Math.Log(Math.Exp(logTail - hi) + Math.Exp(logPmf - hi));
        }
        return Math.Min(1.0, 2 * Math.Exp(logTail));
    }

    private static ShapesEvalComparisonRow Row(ShapesCategory? category, List<(ShapesEvalOutcome Base, ShapesEvalOutcome Candidate)> pairs)
    {
        int gained = pairs.Count(p => p.Candidate.Correct && !p.Base.Correct), lost = pairs.Count(p => p.Base.Correct && !p.Candidate.Correct);
        return new ShapesEvalComparisonRow(category, pairs.Count, pairs.Average(p => p.Base.Correct ? 1.0 : 0.0),
            pairs.Average(p => p.Candidate.Correct ? 1.0 : 0.0), gained, lost, SignTest(gained, lost));
    }

    private static (string PromptSet, List<ShapesEvalOutcome> Items) Read(string path)
    {
        if (!File.Exists(path)) throw new NextStepException($"{path}: report not found (expected a report.json written by nextstep eval, or its folder)");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new NextStepException($"{path}: expected a JSON object (a report.json written by nextstep eval), found {root.ValueKind}");
            var set = root.TryGetProperty("prompt_set", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "custom";
            if (!root.TryGetProperty("items", out var items) || items.ValueKind != JsonValueKind.Array)
                throw new NextStepException($"{path}: expected an \"items\" array (a report.json written by nextstep eval)");
            var list = new List<ShapesEvalOutcome>();
            int index = 0;
            foreach (var item in items.EnumerateArray())
            {
                var o = item.Deserialize<ShapesEvalOutcome>(ShapesJson.Options);
                if (o is null || string.IsNullOrEmpty(o.Caption) || !item.TryGetProperty("seed", out _) || !item.TryGetProperty("correct", out _) || !item.TryGetProperty("category", out _))
                    throw new NextStepException($"{path}: items[{index}] needs \"caption\", \"category\", \"seed\" and \"correct\"");
                list.Add(o);
                index++;
            }
            return (set, list);
        }
        catch (JsonException e)
        {
            throw new NextStepException($"{path}: not a readable eval report ({e.Message})");
        }
    }
}
