using System.Text.Json;
using NextStep.Cli;
using NextStep.Imaging;
using NextStep.Model;
using NextStep.Tests.Support;
using NextStep.Training.Shapes;
using Xunit;
using Xunit.Abstractions;

namespace NextStep.Tests.Shapes;

public sealed class ShapesEvalTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shapes-eval-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void PromptSetsAreFixedAndSeparate()
    {
        var prompts = ShapesEval.Prompts(heldOut: false);
        var held = ShapesEval.Prompts(heldOut: true);
        Assert.Equal(6 * ShapesEval.PerCategory, prompts.Count);
        Assert.Equal(4 * ShapesEval.PerCategory, held.Count);
        Assert.Equal(prompts.Select(Json), ShapesEval.Prompts(heldOut: false).Select(Json));
        Assert.Equal(prompts.Count, prompts.Select(p => p.Caption).Distinct().Count());
        Assert.All(ShapesVocabulary.Categories, c => Assert.Equal(ShapesEval.PerCategory, prompts.Count(p => p.Spec.Category == c)));
        Assert.DoesNotContain(prompts, p => ShapesSplits.ClaimsHeldOut(p.Spec));
        Assert.All(held, p => Assert.True(ShapesSplits.ClaimsHeldOut(p.Spec), p.Caption));
    }

    private static string Json(ShapesPrompt p) => JsonSerializer.Serialize(p, ShapesJson.Options);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GroundTruthGeneratorScoresOne(bool heldOut)
    {
        var prompts = ShapesEval.Prompts(heldOut);
        var report = ShapesEval.Run(prompts, ShapesEval.GroundTruth(prompts), seeds: 2);
        output.WriteLine(string.Join(", ", report.Categories.Select(kv => $"{kv.Key} {kv.Value:F3}")) + $"; overall {report.Overall:F3}");
        Assert.Equal(prompts.Count * 2, report.Items.Count);
        Assert.All(report.Categories.Values, a => Assert.True(a >= 0.99, $"accuracy {a}"));
    }

    [Fact]
    public void FirstSeedShiftsTheSeedsOfEveryPrompt()
    {
        var prompts = ShapesEval.Prompts(heldOut: false, perCategory: 1);
        var seen = new List<int>();
        var truth = ShapesEval.GroundTruth(prompts);
        var report = ShapesEval.Run(prompts, (caption, seed) => { seen.Add(seed); return truth(caption, seed); }, seeds: 2, firstSeed: 8);
        Assert.Equal(Enumerable.Repeat(new[] { 8, 9 }, prompts.Count).SelectMany(x => x), seen);
        Assert.Equal(seen, report.Items.Select(i => i.Seed));
        Assert.Equal(8, report.FirstSeed);
        Assert.Throws<NextStepException>(() => ShapesEval.Run(prompts, truth, seeds: 1, firstSeed: -1));
    }

    [Fact]
    public void WrongImagesScoreLow()
    {
        // Each prompt answered with the image of a prompt from another category, or with an empty background.
        var prompts = ShapesEval.Prompts(heldOut: false);
        var truth = ShapesEval.GroundTruth(prompts);
        var index = prompts.Select((p, i) => (p.Caption, i)).ToDictionary(t => t.Caption, t => t.i);
        var shifted = ShapesEval.Run(prompts, (caption, seed) => truth(prompts[(index[caption] + 37) % prompts.Count].Caption, seed));
        output.WriteLine("shifted: " + string.Join(", ", shifted.Categories.Select(kv => $"{kv.Key} {kv.Value:F3}")) + $"; overall {shifted.Overall:F3}");
        Assert.True(shifted.Overall <= 0.15, $"overall {shifted.Overall}");
        var blank = ShapesEval.Run(prompts, (_, _) => ShapesImages.Filled(64, 64, (128, 128, 128)));
        Assert.Equal(0, blank.Overall);
    }

    [Fact]
    public void AccuracyByShapeShowsTheShapeAModelCannotDraw()
    {
        // A stand-in that draws every prompt correctly except those naming a star, which get an empty background.
        var prompts = ShapesEval.Prompts(heldOut: false);
        var truth = ShapesEval.GroundTruth(prompts);
        var byCaption = prompts.ToDictionary(p => p.Caption);
        bool NamesStar(ShapesPrompt p) => p.Spec.Objects.Any(o => o.Shape == ShapeKind.Star);
        var report = ShapesEval.Run(prompts, (caption, seed) => NamesStar(byCaption[caption])
            ? ShapesImages.Filled(64, 64, (128, 128, 128)) : truth(caption, seed), outDir: _dir);
        output.WriteLine(string.Join(", ", report.Shapes.Select(kv => $"{kv.Key} {kv.Value:F3}")));

        Assert.Equal(ShapesVocabulary.Kinds.Length, report.Shapes.Count);
        Assert.Equal(0, report.Shapes[ShapeKind.Star]);
        foreach (var kind in ShapesVocabulary.Kinds.Where(k => k != ShapeKind.Star))
        {
            // Expected from the prompt set alone: the share of the prompts naming this kind that do not name a star
            // (ground truth scores ≥ 0.99, hence the tolerance).
            var naming = prompts.Where(p => p.Spec.Objects.Any(o => o.Shape == kind)).ToArray();
            double expected = naming.Count(p => !NamesStar(p)) / (double)naming.Length;
            Assert.InRange(report.Shapes[kind], expected - 0.02, expected);
        }
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "report.json")));
        Assert.Equal(0, json.RootElement.GetProperty("shapes").GetProperty("star").GetDouble());
    }

    [Fact]
    public void AccuracyByHeldOutCombinationShowsTheBindingAModelCannotDraw()
    {
        // A stand-in that draws every held-out prompt correctly except those whose caption says "green star".
        var prompts = ShapesEval.Prompts(heldOut: true);
        var truth = ShapesEval.GroundTruth(prompts);
        static bool SaysGreenStar(string caption) => caption.Contains("green star");
        var report = ShapesEval.Run(prompts, (caption, seed) => SaysGreenStar(caption)
            ? ShapesImages.Filled(64, 64, (128, 128, 128)) : truth(caption, seed), outDir: _dir);
        output.WriteLine(string.Join(", ", report.HeldOutCombinations.Select(kv => $"{kv.Key} {kv.Value:F3}")));

        // in the order of the split's list; every held-out pair is claimed by some prompt of the set
        Assert.Equal(ShapesSplits.CombinationNames.Where(report.HeldOutCombinations.ContainsKey), report.HeldOutCombinations.Keys);
        Assert.All(ShapesSplits.HeldOutPairs, p => Assert.Contains($"{ShapesVocabulary.Name(p.Color)} {ShapesVocabulary.Name(p.Shape)}", report.HeldOutCombinations.Keys));
        Assert.Equal(0, report.HeldOutCombinations["green star"]);
        foreach (var pair in new[] { "purple circle", "orange square", "cyan triangle", "red cross" })
        {
            // Expected from the captions alone: the share of the prompts saying this pair that do not say "green
            // star" (ground truth scores ≥ 0.99, hence the tolerance).
            var saying = prompts.Where(p => p.Caption.Contains(pair)).ToArray();
            double expected = saying.Count(p => !SaysGreenStar(p.Caption)) / (double)saying.Length;
            Assert.InRange(report.HeldOutCombinations[pair], expected - 0.03, expected);
        }
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "report.json")));
        Assert.Equal(0, json.RootElement.GetProperty("held_out_combinations").GetProperty("green star").GetDouble());
        // each item names its combinations, which compare reads back
        var item = json.RootElement.GetProperty("items").EnumerateArray().First(i => SaysGreenStar(i.GetProperty("caption").GetString()!));
        Assert.Contains("green star", item.GetProperty("held_out").EnumerateArray().Select(e => e.GetString()));
        var pooled = ShapesEvalComparison.Load([_dir]);
        Assert.Equal(0, ShapesEvalComparison.CompareHeldOut(pooled, pooled).Single(r => r.Combination == "green star").Base);

        var train = ShapesEval.Prompts(heldOut: false, perCategory: 2);
        Assert.Empty(ShapesEval.Run(train, ShapesEval.GroundTruth(train)).HeldOutCombinations);
    }

    [Fact]
    public void RunWritesImagesReportAndContactSheet()
    {
        var prompts = ShapesEval.Prompts(heldOut: false, perCategory: 2);
        var report = ShapesEval.Run(prompts, ShapesEval.GroundTruth(prompts, 128), seeds: 2, outDir: _dir, promptSet: "test", generatorName: "renderer");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "report.json")));
        Assert.Equal("renderer", json.RootElement.GetProperty("generator").GetString());
        Assert.Equal(24, json.RootElement.GetProperty("items").GetArrayLength());
        Assert.Equal(1.0, json.RootElement.GetProperty("categories").GetProperty("color_attr").GetDouble());
        var first = json.RootElement.GetProperty("items")[0];
        var image = ImageIO.Load(Path.Combine(_dir, first.GetProperty("image").GetString()!));
        Assert.Equal(128, image.Width);
        var sheet = ImageIO.Load(Path.Combine(_dir, "contact_sheet.png"));
        Assert.Equal(8 * 128, sheet.Width);
        Assert.Equal(3, report.Items.Count / 8);
    }

    [Fact]
    public void PromptFilesRoundTripAndBadLinesNameTheirPlace()
    {
        var prompts = ShapesEval.Prompts(heldOut: true, perCategory: 3);
        var path = Path.Combine(_dir, "prompts.jsonl");
        File.WriteAllLines(path, prompts.Select(p => JsonSerializer.Serialize(p, ShapesJson.Options)));
        var back = ShapesJson.ReadPrompts(path);
        Assert.Equal(prompts.Select(Json), back.Select(Json));

        File.AppendAllText(path, "{\"caption\": \"a blue blob\", \"spec\": {\"category\": \"colors\", \"objects\": [{\"shape\": \"blob\"}]}}\n");
        var e = Assert.Throws<NextStepException>(() => ShapesJson.ReadPrompts(path));
        Assert.Contains($"prompts.jsonl:{prompts.Count + 1}", e.Message);
    }

    [Fact]
    public void GeneratorFailuresAreReported()
    {
        var prompts = ShapesEval.Prompts(heldOut: false, perCategory: 1);
        var e = Assert.Throws<NextStepException>(() => ShapesEval.Run(prompts, (_, _) => null!));
        Assert.Contains(prompts[0].Caption, e.Message);
        Assert.Throws<NextStepException>(() => ShapesEval.Run(prompts, ShapesEval.GroundTruth(prompts), seeds: 0));
    }

    [Fact]
    public void EvalCommandPrintsATableAndWritesTheReport()
    {
        var stdout = new StringWriter();
        int rc = CliApp.Run(["eval", "--ground-truth", "--held-out", "--per-category", "2", "--out", _dir], stdout, new StringWriter());
        Assert.Equal(0, rc);
        Assert.Contains("color_attr", stdout.ToString());
        Assert.Contains("1.000", stdout.ToString());
        Assert.Contains("held-out combination in the prompt", stdout.ToString());
        Assert.True(File.Exists(Path.Combine(_dir, "report.json")));

        var stderr = new StringWriter();
        Assert.Equal(1, CliApp.Run(["eval", "--model", Path.Combine(_dir, "no-model"), "--out", _dir], new StringWriter(), stderr));
        Assert.Contains("no-model", stderr.ToString());
        stderr = new StringWriter();
        Assert.Equal(1, CliApp.Run(["eval", "--ground-truth", "--prompts", Path.Combine(_dir, "missing.jsonl")], new StringWriter(), stderr));
        Assert.Contains("missing.jsonl", stderr.ToString());
    }

    [Fact]
    public void VaeRoundTripOfTheRendererScoresNearlyAllAndNeedsGroundTruth()
    {
        // The default model's VAE reconstructs the renderer's scenes closely (PSNR > 25 dB) but not exactly, and
        // the scorer still accepts nearly all of them: the ceiling a generator with this VAE can reach.
        var prompts = ShapesEval.Prompts(heldOut: false, perCategory: 2);
        var truth = ShapesEval.GroundTruth(prompts);
        using var vae = AutoencoderKL.Load(Path.Combine(global::NextStep.Pipeline.DefaultModel.PathOrNull()!, "vae"));
        var roundTrip = ShapesPipelineAdapter.ThroughVae(truth, vae);
        var original = truth(prompts[0].Caption, 0);
        var decoded = roundTrip(prompts[0].Caption, 0);
        Assert.NotEqual(original.Rgb, decoded.Rgb);
        double psnr = 10 * Math.Log10(255.0 * 255.0 / original.Rgb.Zip(decoded.Rgb, (a, b) => (a - b) * (double)(a - b)).Average());
        Assert.True(psnr > 25, $"PSNR {psnr:F1} dB");
        var report = ShapesEval.Run(prompts, roundTrip);
        Assert.True(report.Overall >= 0.75, $"round-trip score {report.Overall:F3}");

        var stderr = new StringWriter();
        Assert.Equal(1, CliApp.Run(["eval", "--vae-round-trip", "--out", _dir], new StringWriter(), stderr));
        Assert.Contains("--vae-round-trip needs --ground-truth", stderr.ToString());
    }

    [Fact]
    public void EvalCommandRunsAModelThroughThePipeline()
    {
        // The tiny random checkpoint draws noise, so only the wiring is checked: images of the asked size, scored, reported.
        var prompts = Path.Combine(_dir, "one.jsonl");
        File.WriteAllLines(prompts, ShapesEval.Prompts(heldOut: false, perCategory: 1).Take(1).Select(p => JsonSerializer.Serialize(p, ShapesJson.Options)));
        var stdout = new StringWriter();
        int rc = CliApp.Run(["eval", "--model", Fixtures.TinyModel, "--prompts", prompts, "--seeds", "2", "--steps", "2", "--out", _dir], stdout, new StringWriter());
        Assert.Equal(0, rc);
        Assert.Contains("overall", stdout.ToString());
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "report.json")));
        var items = json.RootElement.GetProperty("items");
        Assert.Equal(2, items.GetArrayLength());
        var image = ImageIO.Load(Path.Combine(_dir, items[1].GetProperty("image").GetString()!));
        Assert.Equal((ShapesGenerationSettings.Default.Size, ShapesGenerationSettings.Default.Size), (image.Width, image.Height));
        Assert.NotEqual(ImageIO.Load(Path.Combine(_dir, items[0].GetProperty("image").GetString()!)).Rgb, image.Rgb);

        var stderr = new StringWriter();
        Assert.Equal(1, CliApp.Run(["eval", "--model", Fixtures.TinyModel, "--prompts", prompts, "--size", "40", "--out", _dir], new StringWriter(), stderr));
        Assert.Contains("40x40", stderr.ToString());
    }
}
