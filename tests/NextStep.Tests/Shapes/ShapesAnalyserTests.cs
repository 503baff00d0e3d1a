using NextStep.Training.Shapes;
using Xunit;
using Xunit.Abstractions;

namespace NextStep.Tests.Shapes;

public class ShapesAnalyserTests(ITestOutputHelper output)
{
    /// <summary>Scenes of every category from fixed seeds (100 per category unless told).</summary>
    private static IEnumerable<ShapesScene> Scenes(int seed, int perCategory = 100) => ShapesVocabulary.Categories.SelectMany(c =>
        Enumerable.Range(0, perCategory).Select(i => ShapesSampler.Sample(new Random(seed + 7919 * i + (int)c), c)));

    private Dictionary<ShapesCategory, double> Accuracy(IEnumerable<(ShapesCategory Category, bool Correct)> results, string label)
    {
        var acc = results.GroupBy(r => r.Category).ToDictionary(g => g.Key, g => g.Average(r => r.Correct ? 1.0 : 0.0));
        output.WriteLine($"{label}: " + string.Join(", ", acc.Select(kv => $"{kv.Key} {kv.Value:F3}")) + $"; overall {acc.Values.Average():F3}");
        return acc;
    }

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    public void GroundTruthImagesScoreCorrectInEveryCategory(int size)
    {
        var acc = Accuracy(Scenes(1).Select(s =>
        {
            var verdict = ShapesAnalyser.Score(s.Spec, ShapesRenderer.Render(s, size, size));
            if (!verdict.Correct) output.WriteLine($"  miss: {s.Caption}: {verdict.Reason}");
            return (s.Spec.Category, verdict.Correct);
        }), $"ground truth {size}px");
        Assert.All(acc.Values, a => Assert.True(a >= 0.99, $"accuracy {a}"));
    }

    [Fact]
    public void DetectionsMatchTheGroundTruthObjects()
    {
        int scenes = 0, exact = 0;
        foreach (var s in Scenes(2))
        {
            var found = ShapesAnalyser.Analyse(ShapesRenderer.Render(s)).Objects;
            var want = s.Objects.Select(o => (o.Shape, o.Color)).OrderBy(t => t).ToArray();
            var got = found.Select(o => (o.Shape, o.Color)).OrderBy(t => t).ToArray();
            bool ok = want.SequenceEqual(got) && found.All(f => s.Objects.Any(o => Math.Abs(o.CenterX - f.CenterX) < 0.03 && Math.Abs(o.CenterY - f.CenterY) < 0.03));
            if (!ok) output.WriteLine($"  {s.Caption}: want {string.Join(",", want)} got {string.Join(",", got)}");
            scenes++; if (ok) exact++;
        }
        output.WriteLine($"exact object lists: {exact}/{scenes}");
        Assert.True(exact >= 0.99 * scenes, $"{exact}/{scenes}");
    }

    [Fact]
    public void MismatchedPromptsScoreNearZero()
    {
        // Scene A scored against a prompt B of the same category whose claims are false for A's ground truth.
        var scenes = Scenes(3).ToArray();
        var rng = new Random(5);
        var results = new List<(ShapesCategory, bool)>();
        foreach (var a in scenes)
        {
            var image = ShapesRenderer.Render(a);
            for (int tries = 0; tries < 50; tries++)
            {
                var b = ShapesSampler.SampleSpec(rng, a.Spec.Category);
                if (ShapesJudge.Judge(b, a).Correct) continue;
                results.Add((a.Spec.Category, ShapesAnalyser.Score(b, image).Correct));
                break;
            }
        }
        var acc = Accuracy(results, "mismatched");
        Assert.All(acc.Values, a => Assert.True(a <= 0.02, $"mismatch accuracy {a}"));
    }

    [Theory]
    [InlineData("noise", 64)]
    [InlineData("blur", 64)]
    [InlineData("jpeg", 64)]
    [InlineData("tint", 64)]
    [InlineData("blur2", 64)]
    [InlineData("all", 128)]
    public void DegradedGroundTruthStillScoresHigh(string kind, int size)
    {
        // noise σ=12 levels; Gaussian blur σ=0.7 and 1.2 px; JPEG quality 75 (4:2:0 chroma at 64 px is harsh on
        // 13 px stars); a colour cast of up to ±30 per channel;
        // at 128 px all three at once: blur σ=1, noise σ=8, JPEG quality 70.
        var acc = Accuracy(Scenes(4, size > 64 ? 25 : 50).Select((s, i) =>
        {
            var img = ShapesRenderer.Render(s, size, size);
            img = kind switch
            {
                "noise" => Degrade.Noise(img, 12, i),
                "blur" => Degrade.Blur(img, 0.7),
                "jpeg" => Degrade.Jpeg(img, 75),
                "tint" => Degrade.Tint(img, 30, i),
                "blur2" => Degrade.Blur(img, 1.2),
                _ => Degrade.Jpeg(Degrade.Noise(Degrade.Blur(img, 1.0), 8, i), 70),
            };
            var verdict = ShapesAnalyser.Score(s.Spec, img);
            if (!verdict.Correct) output.WriteLine($"  miss: {s.Caption}: {verdict.Reason}");
            return (s.Spec.Category, verdict.Correct);
        }), $"{kind} {size}px");
        // Measured: 1.000 everywhere except JPEG at 64 px (0.95–1.00): 4:2:0 chroma subsampling erases the colour of
        // the tips of 15 px stars in low-contrast colours (orange, purple, green on gray), which then read as circles.
        double floor = kind == "jpeg" ? 0.9 : 0.97;
        Assert.All(acc.Values, a => Assert.True(a >= floor, $"accuracy {a}"));
    }
}
