using System.Text.Json;
using NextStep.Tests.Cli;
using NextStep.Training.Shapes;
using Xunit;

namespace NextStep.Tests.Shapes;

/// <summary>Paired comparison of eval reports (<c>nextstep compare</c>) on hand-made reports with known counts.</summary>
public sealed class ShapesEvalComparisonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shapes-compare-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a report.json as <c>nextstep eval</c> does; <paramref name="correct"/> holds one flag per (prompt, seed), prompts outer.</summary>
    /// <paramref name="heldOut"/> gives the held-out combinations of a caption's items.
    private string Report(string name, string promptSet, int firstSeed, int seeds, (string Caption, ShapesCategory Category)[] prompts, string correct,
        IReadOnlyDictionary<string, string[]>? heldOut = null)
    {
        var items = new List<ShapesEvalItem>();
        foreach (var (caption, category) in prompts)
            for (int s = firstSeed; s < firstSeed + seeds; s++)
                items.Add(new ShapesEvalItem(items.Count, caption, category, s, correct[items.Count] == '1', "test", null, heldOut?.GetValueOrDefault(caption)));
        var categories = items.GroupBy(i => i.Category).ToDictionary(g => g.Key, g => g.Average(i => i.Correct ? 1.0 : 0.0));
        var report = new ShapesEvalReport(promptSet, prompts.Length, seeds, categories.Values.Average(), categories, items) { FirstSeed = firstSeed };
        var dir = Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;
        File.WriteAllText(Path.Combine(dir, "report.json"), JsonSerializer.Serialize(report, ShapesJson.Indented));
        return dir;
    }

    private static readonly (string, ShapesCategory)[] Prompts =
    [
        ("a red circle", ShapesCategory.SingleObject),
        ("a blue square and a green star", ShapesCategory.TwoObjects),
        ("three yellow crosses", ShapesCategory.Counting),
    ];

    [Fact]
    public void CountsGainsAndLossesPerCategoryOnSharedImages()
    {
        //                 single  two     counting   (seeds 0-3 each)
        var a = Report("a", "built-in", 0, 4, Prompts, "1100" + "0000" + "1010");
        var b = Report("b", "built-in", 0, 4, Prompts, "1111" + "1110" + "0101");
        var rows = ShapesEvalComparison.Compare(ShapesEvalComparison.Load([a]), ShapesEvalComparison.Load([b]));

        Assert.Equal([ShapesCategory.SingleObject, ShapesCategory.TwoObjects, ShapesCategory.Counting, (ShapesCategory?)null], rows.Select(r => r.Category));
        Assert.Equal([(4, 0.5, 1.0, 2, 0), (4, 0.0, 0.75, 3, 0), (4, 0.5, 0.5, 2, 2)], rows.Take(3).Select(r => (r.Images, r.Base, r.Candidate, r.Gained, r.Lost)));
        var overall = rows[^1];
        Assert.Equal((12, 7, 2), (overall.Images, overall.Gained, overall.Lost));
        Assert.Equal((0.5 + 0.0 + 0.5) / 3, overall.Base, 12);
        Assert.Equal((1.0 + 0.75 + 0.5) / 3, overall.Candidate, 12);
        Assert.Equal(ShapesEvalComparison.SignTest(7, 2), overall.SignTestP, 12);
        Assert.Equal(1.0, rows[2].SignTestP);
    }

    [Theory]
    // Exact two-sided binomial(n, 1/2) tails, computed with integer binomial coefficients.
    [InlineData(10, 2, 0.03857421875)]
    [InlineData(3, 0, 0.25)]
    [InlineData(0, 3, 0.25)]
    [InlineData(72, 62, 0.4369905490859722)]
    [InlineData(105, 50, 1.1820918114862997e-05)]
    [InlineData(600, 500, 0.0028195449914364275)]
    [InlineData(0, 0, 1.0)]
    [InlineData(5, 5, 1.0)]
    public void SignTestMatchesTheExactBinomialTail(int gained, int lost, double expected) =>
        Assert.True(Math.Abs(ShapesEvalComparison.SignTest(gained, lost) - expected) <= 1e-9 * expected,
            $"p({gained}, {lost}) = {ShapesEvalComparison.SignTest(gained, lost)}, expected {expected}");

    [Fact]
    public void PoolsDisjointSeedRangesAndComparesOnlyWhatBothSidesHave()
    {
        var a1 = Report("a1", "built-in", 0, 2, Prompts, "11" + "00" + "10");
        var a2 = Report("a2", "built-in", 2, 2, Prompts, "00" + "00" + "10");
        var b = Report("b", "built-in", 1, 2, Prompts, "11" + "11" + "11"); // seeds 1 and 2
        var pooled = ShapesEvalComparison.Load([a1, Path.Combine(a2, "report.json")]);
        Assert.Equal(12, pooled.Items.Count);
        var overall = ShapesEvalComparison.Compare(pooled, ShapesEvalComparison.Load([b]))[^1];
        // Shared: seeds 1 and 2 of each prompt. Base there: single 1,0; two 0,0; counting 0,1.
        Assert.Equal((6, 4, 0), (overall.Images, overall.Gained, overall.Lost));
    }

    [Fact]
    public void BadReportsAreClearErrors()
    {
        var a = Report("a", "built-in", 0, 2, Prompts, "110011");
        var held = Report("held", "built-in held-out", 0, 2, Prompts, "110011");
        var later = Report("later", "built-in", 5, 2, Prompts, "110011");
        var e = Assert.Throws<NextStepException>(() => ShapesEvalComparison.Load([a, a]));
        Assert.Contains("seed 0", e.Message);
        Assert.Contains("also in", e.Message);
        e = Assert.Throws<NextStepException>(() => ShapesEvalComparison.Load([a, held]));
        Assert.Contains("built-in held-out", e.Message);
        e = Assert.Throws<NextStepException>(() => ShapesEvalComparison.Compare(ShapesEvalComparison.Load([a]), ShapesEvalComparison.Load([held])));
        Assert.Contains("same prompt set", e.Message);
        e = Assert.Throws<NextStepException>(() => ShapesEvalComparison.Compare(ShapesEvalComparison.Load([a]), ShapesEvalComparison.Load([later])));
        Assert.Contains("share no image", e.Message);
        var broken = Path.Combine(_dir, "broken.json");
        File.WriteAllText(broken, "{\"prompt_set\": \"built-in\", \"items\": [{\"caption\": \"a red circle\", \"seed\": 0}]}");
        e = Assert.Throws<NextStepException>(() => ShapesEvalComparison.Load([broken]));
        Assert.Contains("items[0]", e.Message);
        File.WriteAllText(broken, "{\"items\": [{\"caption\": \"x\", \"category\": \"no_such_category\", \"seed\": 0, \"correct\": true}]}");
        e = Assert.Throws<NextStepException>(() => ShapesEvalComparison.Load([broken]));
        Assert.Contains("broken.json", e.Message);
        File.WriteAllText(broken, "[1, 2]");
        e = Assert.Throws<NextStepException>(() => ShapesEvalComparison.Load([broken]));
        Assert.Contains("expected a JSON object", e.Message);
        File.WriteAllText(broken, "{\"prompt_set\": \"built-in\", \"items\": [{\"caption\": \"a red circle\", \"category\": \"counting\", \"seed\": 0, \"correct\": true}]}");
        e = Assert.Throws<NextStepException>(() => ShapesEvalComparison.Compare(ShapesEvalComparison.Load([a]), ShapesEvalComparison.Load([broken])));
        Assert.Contains("is category single_object in the base and counting in the candidate", e.Message);
    }

    private static readonly (string, ShapesCategory)[] HeldOutPrompts =
    [
        ("a green star", ShapesCategory.Colors),
        ("a purple circle and a green star", ShapesCategory.ColorAttr),
        ("two red crosses", ShapesCategory.Counting),
    ];

    private static readonly Dictionary<string, string[]> HeldOutClaims = new()
    {
        ["a green star"] = ["green star"],
        ["a purple circle and a green star"] = ["purple circle", "green star"],
        ["two red crosses"] = ["red cross"],
    };

    [Fact]
    public void CountsGainsAndLossesPerHeldOutCombination()
    {
        //                      green star  both  red crosses   (seeds 0-1 each)
        var a = Report("a", "held-out", 0, 2, HeldOutPrompts, "10" + "00" + "11", HeldOutClaims);
        var b = Report("b", "held-out", 0, 2, HeldOutPrompts, "11" + "11" + "01", HeldOutClaims);
        var rows = ShapesEvalComparison.CompareHeldOut(ShapesEvalComparison.Load([a]), ShapesEvalComparison.Load([b]));

        // in the split's order; the prompt claiming two combinations counts for both
        Assert.Equal(["purple circle", "green star", "red cross"], rows.Select(r => r.Combination));
        Assert.Equal([(2, 0.0, 1.0, 2, 0), (4, 0.25, 1.0, 3, 0), (2, 1.0, 0.5, 0, 1)], rows.Select(r => (r.Images, r.Base, r.Candidate, r.Gained, r.Lost)));
        Assert.Equal(ShapesEvalComparison.SignTest(3, 0), rows[1].SignTestP, 12);
        Assert.All(rows, r => Assert.Null(r.Category));

        var (code, stdout, stderr) = CliRunner.Run("compare", "--base", a, "--candidate", b);
        Assert.True(code == 0, stderr);
        Assert.Contains("held-out combination in the prompt", stdout);
        Assert.Contains("+3", stdout.Split('\n').Single(l => l.Contains("green star")));

        // reports without held-out prompts (or written before eval recorded them) have no such rows
        var c = Report("c", "built-in", 0, 4, Prompts, "1100" + "0000" + "1010");
        Assert.Empty(ShapesEvalComparison.CompareHeldOut(ShapesEvalComparison.Load([c]), ShapesEvalComparison.Load([c])));
        Assert.DoesNotContain("held-out combination", CliRunner.Run("compare", "--base", c, "--candidate", c).Out);
    }

    [Fact]
    public void CliPrintsTheTableAndRefusesMissingReports()
    {
        var a = Report("a", "built-in", 0, 4, Prompts, "1100" + "0000" + "1010");
        var b = Report("b", "built-in", 0, 4, Prompts, "1111" + "1110" + "0101");
        var (code, stdout, stderr) = CliRunner.Run("compare", "--base", a, "--candidate", b);
        Assert.True(code == 0, stderr);
        var overall = stdout.Split('\n').Single(l => l.Contains("overall"));
        Assert.Contains("+7", overall);
        Assert.Contains("-2", overall);
        Assert.Contains("0.333", overall);
        Assert.Contains("0.750", overall);
        (code, _, stderr) = CliRunner.Run("compare", "--base", a, "--candidate", Path.Combine(_dir, "missing"));
        CliAssert.OneLineError(code, stderr, "missing");
    }
}
