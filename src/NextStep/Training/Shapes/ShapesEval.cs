using NextStep.Imaging;
using System.Text.Json;

namespace NextStep.Training.Shapes;

/// <summary>Makes one image for a prompt and a seed: the model under test (or a stand-in).</summary>
public delegate RgbImage ShapesImageGenerator(string prompt, int seed);

/// <summary>One generated image and its verdict; <see cref="HeldOut"/> names the held-out combinations its prompt claims (null when none).</summary>
public sealed record ShapesEvalItem(int Index, string Caption, ShapesCategory Category, int Seed, bool Correct, string Reason, string? Image,
    IReadOnlyList<string>? HeldOut = null);

/// <summary>Accuracy per category (fraction of correct images) and overall (mean of the categories, as GenEval).</summary>
public sealed record ShapesEvalReport(string PromptSet, int Prompts, int SeedsPerPrompt, double Overall,
    IReadOnlyDictionary<ShapesCategory, double> Categories, IReadOnlyList<ShapesEvalItem> Items)
{
    /// <summary>What made the images (model folder and sampling settings), so that a report can be reproduced.</summary>
    public string? Generator { get; init; }

    /// <summary>
    /// Accuracy over the images whose prompt names each shape kind (a prompt with two kinds counts for both), so that
    /// one shape a model cannot draw shows up across categories. Kinds no prompt names are left out.
    /// </summary>
    public IReadOnlyDictionary<ShapeKind, double> Shapes { get; init; } = new Dictionary<ShapeKind, double>();

    /// <summary>
    /// Accuracy over the images whose prompt claims each held-out combination (<see cref="ShapesSplits.ClaimedCombinations"/>;
    /// a prompt with two counts for both), so that one binding a model cannot generalise to shows up. Empty when no
    /// prompt claims one (the training-distribution set).
    /// </summary>
    public IReadOnlyDictionary<string, double> HeldOutCombinations { get; init; } = new Dictionary<string, double>();

    /// <summary>The first seed of every prompt (seeds FirstSeed..FirstSeed + SeedsPerPrompt − 1), so that reports of disjoint seed ranges can be pooled.</summary>
    public int FirstSeed { get; init; }
}

/// <summary>
/// The Shapes prompt-following benchmark. <see cref="Prompts"/> is a fixed prompt set: <see cref="PerCategory"/>
/// prompts per category drawn from seed <see cref="PromptSeed"/>, either from the training distribution (no
/// held-out combination) or, for <c>heldOut</c>, prompts that each claim a held-out (shape, colour) pair or relation
/// (categories counting, colors, position and color_attr; see <see cref="ShapesSplits"/>). Each prompt is generated
/// with n seeds (0..n−1 unless a first seed is given) and scored by <see cref="ShapesAnalyser"/>.
/// </summary>
public static class ShapesEval
{
    public const int PromptSeed = 20260101;
    public const int PerCategory = 16;

    public static IReadOnlyList<ShapesPrompt> Prompts(bool heldOut, int perCategory = PerCategory)
    {
        var split = heldOut ? ShapesSplit.HeldOut : ShapesSplit.Train;
        var prompts = new List<ShapesPrompt>();
        foreach (var category in ShapesSplits.Categories(split))
        {
            var rng = new Random(PromptSeed + (int)category);
            var captions = new HashSet<string>();
            while (captions.Count < perCategory)
            {
                var scene = ShapesSampler.Sample(rng, category, split);
                if (captions.Add(scene.Caption)) prompts.Add(scene.Prompt);
            }
        }
        return prompts;
    }

    /// <summary>A stand-in generator that draws a random layout satisfying each prompt (the best a model can do).</summary>
    public static ShapesImageGenerator GroundTruth(IEnumerable<ShapesPrompt> prompts, int size = ShapesRenderer.DefaultSize)
    {
        var byCaption = prompts.GroupBy(p => p.Caption).ToDictionary(g => g.Key, g => g.First());
        return (caption, seed) => byCaption.TryGetValue(caption, out var p)
            ? ShapesRenderer.Render(ShapesSampler.Realize(new Random(seed), p), size, size)
            : throw new NextStepException($"prompt \"{caption}\" is not in the prompt set");
    }

    /// <summary>
    /// Generates every prompt with seeds <paramref name="firstSeed"/>..<paramref name="firstSeed"/> + <paramref name="seeds"/> − 1 and scores it. With <paramref name="outDir"/>,
    /// writes images/NNNN_S.png, report.json and contact_sheet.png there. <paramref name="generatorName"/> is recorded
    /// in the report as it is.
    /// </summary>
    public static ShapesEvalReport Run(IReadOnlyList<ShapesPrompt> prompts, ShapesImageGenerator generate, int seeds = 1,
        string? outDir = null, string promptSet = "custom", Action<ShapesEvalItem>? progress = null, string? generatorName = null, int firstSeed = 0)
    {
        if (seeds < 1) throw new NextStepException($"--seeds {seeds} is invalid (expected at least 1)");
        if (firstSeed < 0 || firstSeed > int.MaxValue - seeds) throw new NextStepException($"--first-seed {firstSeed} is invalid (expected 0 or more, with room for {seeds} seeds)");
        if (prompts.Count == 0) throw new NextStepException("the eval prompt set is empty");
        string? imageDir = outDir is null ? null : Directory.CreateDirectory(Path.Combine(outDir, "images")).FullName;
        var items = new List<ShapesEvalItem>();
        var named = new List<ShapeKind[]>();
        var sheet = new List<(RgbImage, string, bool)>();
        for (int p = 0; p < prompts.Count; p++)
            for (int seed = firstSeed; seed < firstSeed + seeds; seed++)
            {
                var prompt = prompts[p];
                var image = generate(prompt.Caption, seed) ?? throw new NextStepException($"the generator returned no image for \"{prompt.Caption}\" (seed {seed})");
                var verdict = ShapesAnalyser.Score(prompt.Spec, image);
                string? file = null;
                if (imageDir is not null)
                {
                    file = Path.Combine("images", $"{p:D4}_{seed}.png");
                    ShapesImages.SavePng(image, Path.Combine(outDir!, file));
                    sheet.Add((image, prompt.Caption, verdict.Correct));
                }
                var claimed = ShapesSplits.ClaimedCombinations(prompt.Spec);
                var item = new ShapesEvalItem(items.Count, prompt.Caption, prompt.Spec.Category, seed, verdict.Correct, verdict.Reason, file,
                    claimed.Count > 0 ? claimed : null);
                items.Add(item);
                named.Add(prompt.Spec.Objects.Select(o => o.Shape).Distinct().ToArray());
                progress?.Invoke(item);
            }
        var categories = items.GroupBy(i => i.Category).OrderBy(g => g.Key)
            .ToDictionary(g => g.Key, g => g.Average(i => i.Correct ? 1.0 : 0.0));
        var shapes = ShapesVocabulary.Kinds
            .Select(k => (Kind: k, Items: items.Where(i => named[i.Index].Contains(k)).ToArray()))
            .Where(t => t.Items.Length > 0)
            .ToDictionary(t => t.Kind, t => t.Items.Average(i => i.Correct ? 1.0 : 0.0));
        var combinations = ShapesSplits.CombinationNames.Where(c => items.Any(i => i.HeldOut?.Contains(c) == true))
            .ToDictionary(c => c, c => items.Where(i => i.HeldOut?.Contains(c) == true).Average(i => i.Correct ? 1.0 : 0.0));
        var report = new ShapesEvalReport(promptSet, prompts.Count, seeds, categories.Values.Average(), categories, items)
            { Generator = generatorName, Shapes = shapes, HeldOutCombinations = combinations, FirstSeed = firstSeed };
        if (outDir is not null)
        {
            File.WriteAllText(Path.Combine(outDir, "report.json"), JsonSerializer.Serialize(report, ShapesJson.Indented));
            ShapesContactSheet.Write(Path.Combine(outDir, "contact_sheet.png"), sheet);
        }
        return report;
    }
}
