using NextStep.Imaging;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Cli;

/// <summary><c>nextstep generate</c>: presets, aspect ratios, stored parameters, <c>--from</c>, <c>--min-quality</c>.</summary>
[Collection(GlobalRngCollection.Name)]
public class GenerateCliTests
{
    private static readonly string Tiny = Fixtures.TinyModel;
    private static string TempDir() => Directory.CreateTempSubdirectory("cli-gen").FullName;

    private static string Generate(string outPath, params string[] args)
    {
        var (code, stdout, stderr) = CliRunner.Run(["generate", "--model", Tiny, .. args, "--out", outPath]);
        Assert.True(code == 0, stderr);
        return stdout;
    }

    [Fact]
    public void PresetAndAspectPickTheSizeAndEveryParameterIsStored()
    {
        var dir = TempDir();
        var outPath = Path.Combine(dir, "p.png");
        // the tiny model (hidden 64) is not full-size: draft = 64 px, 10 steps, cfg 3; --steps overrides the preset
        var stdout = Generate(outPath, "--prompt", "a red cube", "--negative", "blurry", "--preset", "draft", "--steps", "2",
            "--aspect", "16:9", "--seed", "9", "--shift", "2", "--metadata", "json");
        Assert.Contains("wrote", stdout);
        Assert.Contains("image tokens", stdout);

        var img = ImageIO.Load(outPath);
        Assert.Equal((48, 80), (img.Height, img.Width)); // grid 12x21 (1.75, nearest to 16/9) at the 4x4-token square of 64 px
        var meta = ImageMetadata.Read(outPath);
        Assert.Equal(("a red cube", "blurry", 9L, 2, 3.0, 1.0, 2.0), (meta.Prompt, meta.Negative, meta.Seed, meta.Steps, meta.Cfg, meta.CfgImg, meta.Shift));
        Assert.Equal((48, 80, "model", ImageMetadata.ModelHashOf(Tiny), ImageMetadata.CurrentVersion), (meta.Height, meta.Width, meta.Model, meta.ModelHash, meta.Version));
        Assert.NotNull(meta.Sampler);
        Assert.NotNull(meta.Quality);

        var text = PngMetadata.ReadText(File.ReadAllBytes(outPath))["parameters"];
        Assert.StartsWith("a red cube\nNegative prompt: blurry\nSteps: 2, ", text);
        Assert.Contains("CFG scale: 3, Shift: 2, Seed: 9, Size: 80x48", text);
        Assert.Contains("Model: model", text);
        Assert.Equal(meta, ImageMetadata.FromJson(File.ReadAllText(Path.Combine(dir, "p.json")), "sidecar"));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void FromReproducesThePixelsAndFlagsOverrideIt()
    {
        var dir = TempDir();
        var first = Path.Combine(dir, "first.png");
        Generate(first, "--prompt", "a green field", "--positive", "sharp", "--negative", "dark", "--size", "32x48", "--cfg", "3",
            "--steps", "2", "--shift", "1.5", "--seed", "123", "--cfg-schedule", "linear", "--use-norm", "--candidates", "2");
        Assert.Equal(2, ImageMetadata.Read(first).Candidates);
        Assert.Contains("Best of: 2", PngMetadata.ReadText(File.ReadAllBytes(first))["parameters"]);

        var again = Path.Combine(dir, "again.png");
        var (code, _, stderr) = CliRunner.Run("generate", "--from", first, "--model", Tiny, "--out", again);
        Assert.True(code == 0, stderr);
        Assert.Equal(ImageIO.Load(first).Rgb, ImageIO.Load(again).Rgb);
        Assert.Equal(ImageMetadata.Read(first), ImageMetadata.Read(again));

        var other = Path.Combine(dir, "other.png");
        (code, _, stderr) = CliRunner.Run("generate", "--from", first, "--model", Tiny, "--seed", "124", "--out", other);
        Assert.True(code == 0, stderr);
        var meta = ImageMetadata.Read(other);
        Assert.Equal(ImageMetadata.Read(first) with { Seed = 124, Quality = meta.Quality }, meta);
        Assert.NotEqual(ImageIO.Load(first).Rgb, ImageIO.Load(other).Rgb);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void FromOneOfSeveralImagesRegeneratesThatImage()
    {
        var dir = TempDir();
        Generate(Path.Combine(dir, "set.png"), "--prompt", "two dots", "--size", "32x32", "--cfg", "2", "--steps", "2", "--count", "2", "--seed", "5");
        var second = Path.Combine(dir, "set_1.png");
        Assert.Equal((1, 2), (ImageMetadata.Read(second).Index, ImageMetadata.Read(second).Count));

        var again = Path.Combine(dir, "again.png");
        var (code, _, stderr) = CliRunner.Run("generate", "--from", second, "--model", Tiny, "--out", again);
        Assert.True(code == 0, stderr);
        Assert.False(File.Exists(Path.Combine(dir, "again_0.png")));
        Assert.Equal(ImageIO.Load(second).Rgb, ImageIO.Load(again).Rgb);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void MinQualityRetriesWithTheNextSeedsAndKeepsTheBestTry()
    {
        var dir = TempDir();
        var outPath = Path.Combine(dir, "q.png");
        string[] common = ["--prompt", "a lake", "--size", "32x32", "--steps", "2", "--cfg", "2"];
        // 1.0 is out of reach: three tries (seeds 40, 41, 42), the best is kept and the run warns
        var stdout = Generate(outPath, [.. common, "--seed", "40", "--min-quality", "1", "--retries", "2"]);
        Assert.Contains("try 2, seed 41", stdout);
        Assert.Contains("try 3, seed 42", stdout);
        Assert.Contains("stays below --min-quality", stdout);
        var meta = ImageMetadata.Read(outPath);
        Assert.InRange(meta.Attempt!.Value, 1, 3);
        Assert.Equal(40 + meta.Attempt - 1, meta.Seed);

        // the kept image is exactly what its recorded seed gives, and its score is the one recorded
        var direct = Path.Combine(dir, "direct.png");
        Generate(direct, [.. common, "--seed", meta.Seed!.Value.ToString()]);
        var pixels = ImageIO.Load(direct);
        Assert.Equal(pixels.Rgb, ImageIO.Load(outPath).Rgb);
        Assert.Equal(QualityScore.Compute(pixels.Rgb, pixels.Width, pixels.Height).Overall, meta.Quality!.Value, 12);

        // a reachable threshold: the first try passes
        Generate(outPath, [.. common, "--seed", "40", "--min-quality", "0"]);
        Assert.Equal((1, 40L), (ImageMetadata.Read(outPath).Attempt, ImageMetadata.Read(outPath).Seed));
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("--preset", "ultra", "unknown preset \"ultra\"")]
    [InlineData("--aspect", "wide", "not a ratio like 16:9")]
    [InlineData("--metadata", "xmp", "expected png or json")]
    [InlineData("--min-quality", "2", "min_quality = 2")]
    [InlineData("--retries", "-1", "retries = -1")]
    [InlineData("--count", "0", "count = 0")]
    [InlineData("--from", "/nonexistent/a.png", "/nonexistent/a.png: file not found")]
    [InlineData("--image", "/nonexistent/b.png", "/nonexistent/b.png: image file not found")]
    public void BadValuesGiveOneLineErrors(string option, string value, string expected)
    {
        var (code, _, stderr) = CliRunner.Run("generate", "--model", Tiny, "--prompt", "x", "--size", "64x64", option, value, "--out", Path.Combine(TempDir(), "x.png"));
        CliAssert.OneLineError(code, stderr, expected);
    }

    [Fact]
    public void MissingPromptAndVerboseStackTrace()
    {
        var (code, _, stderr) = CliRunner.Run("generate", "--model", Tiny, "--out", Path.Combine(TempDir(), "x.png"));
        CliAssert.OneLineError(code, stderr, "--prompt");
        (code, _, stderr) = CliRunner.Run("generate", "--model", Tiny, "--verbose", "--out", Path.Combine(TempDir(), "x.png"));
        Assert.Equal(1, code);
        Assert.Contains("   at ", stderr);
    }
}
