using System.Text.Json;
using NextStep.Cli;
using NextStep.Cli.Commands;
using NextStep.Imaging;
using NextStep.Pipeline;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Cli;

/// <summary><c>nextstep batch</c>: per-item overrides, bad items, report.json, --resume, Ctrl-C.</summary>
[Collection(GlobalRngCollection.Name)]
public class BatchCliTests
{
    private static readonly string Tiny = Fixtures.TinyModel;

    private static (string Dir, string File) BatchFile(string json)
    {
        var dir = Directory.CreateTempSubdirectory("cli-batch").FullName;
        var file = Path.Combine(dir, "batch.json");
        File.WriteAllText(file, json);
        return (dir, file);
    }

    private static JsonElement[] ReportItems(string outDir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json"))).RootElement.GetProperty("items").EnumerateArray().ToArray();

    [Fact]
    public void RunsGoodItemsReportsBadOnesAndResumes()
    {
        var (dir, file) = BatchFile("""
            {
              "prompts": [
                "a red apple",
                {"prompt": "a blue sky", "seed": 7, "size": "32x48", "steps": 3, "guidance": 2.5, "negative": "clouds", "name": "sky"},
                {"prompt": "bad steps", "steps": -1},
                {"prompt": "typo", "stpes": 3},
                {"prompt": "bad size", "size": "60x64"},
                {"prompt": "picky", "min_quality": 1, "retries": 1},
                {"prompt": "no candidates", "candidates": 0}
              ],
              "settings": {"size": 32, "steps": 2, "guidance": 2, "seed": 100, "negative": "noise"}
            }
            """);
        var outDir = Path.Combine(dir, "out");
        var (code, stdout, stderr) = CliRunner.Run("batch", file, "--model", Tiny, "--out", outDir);
        Assert.Equal(1, code);
        Assert.Contains("3 generated, 0 skipped (already done), 4 failed", stdout);
        Assert.Contains("prompts[6].candidates = 0: must be at least 1", stderr);
        Assert.Contains("prompts[2].steps = -1: must be at least 1", stderr);
        Assert.Contains("prompts[3].stpes: unknown field", stderr);
        Assert.Contains("prompts[4]: size 60x64 (HxW): both sides must be positive multiples of 16", stderr);

        var items = ReportItems(outDir);
        Assert.Equal(["ok", "ok", "failed", "failed", "failed", "below_min_quality", "failed"], items.Select(i => i.GetProperty("status").GetString()));
        Assert.Equal(["000.png", "sky.png", "002.png", "003.png", "004.png", "005.png", "006.png"], items.Select(i => i.GetProperty("file").GetString()));
        Assert.Equal(100, items[0].GetProperty("seed").GetInt64()); // seed + index
        Assert.Equal(7, items[1].GetProperty("seed").GetInt64());
        Assert.InRange(items[5].GetProperty("seed").GetInt64(), 105, 106); // seed + index, then + 1 for the retry
        Assert.Contains("prompts[2].steps", items[2].GetProperty("error").GetString());
        foreach (var i in new[] { 0, 1, 5 })
        {
            Assert.True(items[i].GetProperty("time_s").GetDouble() > 0);
            var png = Path.Combine(outDir, items[i].GetProperty("file").GetString()!);
            var pixels = ImageIO.Load(png);
            Assert.Equal(QualityScore.Compute(pixels.Rgb, pixels.Width, pixels.Height).Overall, items[i].GetProperty("quality").GetDouble(), 4);
            Assert.Equal(ImageMetadata.Read(png), ImageMetadata.FromJson(File.ReadAllText(Path.ChangeExtension(png, ".json")), "sidecar"));
        }
        Assert.False(File.Exists(Path.Combine(outDir, "002.png")));

        var sky = ImageMetadata.Read(Path.Combine(outDir, "sky.png"));
        Assert.Equal(("a blue sky", "clouds", 7L, 3, 2.5, 32, 48), (sky.Prompt, sky.Negative, sky.Seed, sky.Steps, sky.Cfg, sky.Height, sky.Width));

        // an item is what generate gives for the same settings
        var single = Path.Combine(dir, "single.png");
        (code, _, stderr) = CliRunner.Run("generate", "--model", Tiny, "--prompt", "a red apple", "--negative", "noise", "--size", "32x32",
            "--steps", "2", "--cfg", "2", "--seed", "100", "--out", single);
        Assert.True(code == 0, stderr);
        Assert.Equal(ImageIO.Load(single).Rgb, ImageIO.Load(Path.Combine(outDir, "000.png")).Rgb);

        // --resume skips the done items (files untouched) and tries the failed ones again
        var written = File.GetLastWriteTimeUtc(Path.Combine(outDir, "000.png"));
        (code, stdout, _) = CliRunner.Run("batch", file, "--model", Tiny, "--out", outDir, "--resume");
        Assert.Equal(1, code);
        Assert.Contains("0 generated, 3 skipped (already done), 4 failed", stdout);
        Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(outDir, "000.png")));
        Assert.Equal(7, ReportItems(outDir).Length);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void CancellingKeepsFinishedImagesAndResumeFinishesTheRest()
    {
        var (dir, file) = BatchFile("""{"prompts": ["one", "two", "three"], "settings": {"size": "32x32", "steps": 2}}""");
        var outDir = Path.Combine(dir, "out");
        var model = ModelInfo.Of(Tiny);
        using var cts = new CancellationTokenSource();
        var stdout = new CancelOnWrite(cts, "item 1/3: wrote");
        Assert.ThrowsAny<OperationCanceledException>(() =>
            BatchCommand.Execute(file, outDir, false, model, new JobSettings(), new PipelineOptions(), stdout, TextWriter.Null, cts.Token));
        Assert.True(File.Exists(Path.Combine(outDir, "000.png")));
        Assert.False(File.Exists(Path.Combine(outDir, "001.png")));
        Assert.Equal(["ok"], ReportItems(outDir).Select(i => i.GetProperty("status").GetString()));

        var (code, output, stderr) = CliRunner.Run("batch", file, "--model", Tiny, "--out", outDir, "--resume");
        Assert.True(code == 0, stderr);
        Assert.Contains("2 generated, 1 skipped", output);
        Assert.Equal(["ok", "ok", "ok"], ReportItems(outDir).Select(i => i.GetProperty("status").GetString()));
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("""{"prompts": []}""", "prompts: expected a non-empty array")]
    [InlineData("""{"prompts": ["a"], "settings": {"steps": "many"}}""", "settings.steps: expected an integer, got \"many\"")]
    [InlineData("""{"prompts": ["a"], "settings": {"guidance": 0.5}}""", "settings.guidance = 0.5: must be a finite number ≥ 1")]
    [InlineData("""{"prompts": ["a"], "settings": {"preset": "draft", "quality": "premium"}}""", "give preset or quality, not both")]
    [InlineData("""{"prompts": ["a"], "extra": 1}""", "extra: unknown field")]
    public void BadBatchFilesFailWithOneLineNamingTheField(string json, string expected)
    {
        var (dir, file) = BatchFile(json);
        var (code, _, stderr) = CliRunner.Run("batch", file, "--model", Tiny, "--out", Path.Combine(dir, "out"));
        CliAssert.OneLineError(code, stderr, expected);
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void MissingBatchFileIsAnError()
    {
        var (code, _, stderr) = CliRunner.Run("batch", "/nonexistent/batch.json", "--model", Tiny, "--out", "/tmp/unused");
        CliAssert.OneLineError(code, stderr, "/nonexistent/batch.json: batch file not found");
    }

    /// <summary>Cancels the token when a line containing <paramref name="marker"/> is written.</summary>
    private sealed class CancelOnWrite(CancellationTokenSource cts, string marker) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value?.Contains(marker) == true) cts.Cancel();
        }
    }
}
