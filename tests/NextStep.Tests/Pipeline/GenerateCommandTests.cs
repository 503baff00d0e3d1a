using NextStep.Cli;
using NextStep.Imaging;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Pipeline;

/// <summary><c>nextstep generate</c> end to end on the tiny checkpoint, compared with the golden PNGs.</summary>
[Xunit.Collection(NextStep.Tests.Support.GlobalRngCollection.Name)]
public class GenerateCommandTests
{
    private static readonly string Tiny = Fixtures.TinyModel;
    private static string Golden(string file) => Fixtures.Path("tiny", "golden", file);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static string TempDir() => Directory.CreateTempSubdirectory("gen").FullName;

    [Fact]
    public void TextToImageWritesTheGoldenPng()
    {
        var outPath = Path.Combine(TempDir(), "cfg.png");
        var (code, stdout, stderr) = Run("generate", "--model", Tiny, "--prompt", "a blue square on a black background",
            "--positive", "masterpiece, film grained, best quality.", "--negative", "lowres, blurry", "--size", "64x64",
            "--cfg", "7.5", "--steps", "5", "--seed", "3407", "--use-norm", "--sampler", "github2025", "--out", outPath);
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote", stdout);
        PipelineGoldenTests.AssertImage("t2i_cfg via CLI", ImageIO.Load(Golden("t2i_cfg_0.png")).Rgb, ImageIO.Load(outPath));
    }

    [Fact]
    public void EditPrefixesTheImageTagAndWritesTheGoldenPng()
    {
        var outPath = Path.Combine(TempDir(), "edit.png");
        var (code, _, stderr) = Run("edit", "--model", Tiny, "--image", Golden("photo64.png"), "--prompt", "Add a pirate hat to the dog's head.",
            "--negative", "Copy original image.", "--size", "64x64", "--cfg", "7.5", "--cfg-img", "2.0", "--steps", "4", "--shift", "3.2",
            "--seed", "42", "--use-norm", "--sampler", "github2025", "--out", outPath);
        Assert.True(code == 0, stderr);
        PipelineGoldenTests.AssertImage("edit via CLI", ImageIO.Load(Golden("edit_0.png")).Rgb, ImageIO.Load(outPath));
    }

    [Fact]
    public void CountWritesSuffixedFiles()
    {
        var dir = TempDir();
        var (code, _, stderr) = Run("generate", "--model", Tiny, "--prompt", "photo of a green triangle", "--size", "64x64", "--cfg", "4",
            "--steps", "3", "--shift", "2", "--seed", "7", "--count", "2", "--cfg-schedule", "linear", "--sampler", "github2025",
            "--out", Path.Combine(dir, "multi.png"));
        Assert.True(code == 0, stderr);
        Assert.False(File.Exists(Path.Combine(dir, "multi.png")));
        for (int i = 0; i < 2; i++)
            PipelineGoldenTests.AssertImage($"t2i_multi_{i} via CLI", ImageIO.Load(Golden($"t2i_multi_{i}.png")).Rgb, ImageIO.Load(Path.Combine(dir, $"multi_{i}.png")));
    }

    [Theory]
    [InlineData("--size", "60x64", "multiples of 16")]
    [InlineData("--size", "big", "expected HxW")]
    [InlineData("--steps", "-3", "num_sampling_steps = -3")]
    [InlineData("--cfg", "0.5", "cfg = 0.5")]
    [InlineData("--sampler", "euler", "sampler \"euler\"")]
    [InlineData("--cfg-img", "2", "cfg_img = 2 needs cfg > 1")]
    public void BadArgumentsGiveOneLineErrors(string option, string value, string expected)
    {
        var (code, _, stderr) = Run("generate", "--model", Tiny, "--prompt", "x", option, value, "--out", Path.Combine(TempDir(), "x.png"));
        AssertOneLineError(code, stderr, expected);
    }

    [Fact]
    public void UnparsableOptionsGiveOneLineErrors()
    {
        var (code, _, stderr) = Run("generate", "--model", Tiny, "--prompt", "x", "--steps", "abc");
        AssertOneLineError(code, stderr, "'abc'");
        Assert.Contains("--out", stderr);
    }

    [Fact]
    public void MissingModelFolderIsAnError()
    {
        var missing = Path.Combine(TempDir(), "no-model");
        var (code, _, stderr) = Run("generate", "--model", missing, "--prompt", "x", "--out", Path.Combine(TempDir(), "x.png"));
        AssertOneLineError(code, stderr, missing);
    }

    [Fact]
    public void UnreadableInputImageIsAnError()
    {
        var dir = TempDir();
        var bad = Path.Combine(dir, "bad.png");
        File.WriteAllText(bad, "not a png");
        var (code, _, stderr) = Run("edit", "--model", Tiny, "--image", bad, "--prompt", "x", "--size", "64x64", "--out", Path.Combine(dir, "x.png"));
        AssertOneLineError(code, stderr, "bad.png");
    }

    [Fact]
    public void EditWithoutAnImageIsAnError()
    {
        var (code, _, stderr) = Run("edit", "--model", Tiny, "--prompt", "x", "--out", Path.Combine(TempDir(), "x.png"));
        AssertOneLineError(code, stderr, "--image");
    }

    [Fact]
    public void UnknownOutputExtensionIsAnError()
    {
        var (code, _, stderr) = Run("generate", "--model", Tiny, "--prompt", "x", "--out", Path.Combine(TempDir(), "x.gif"));
        AssertOneLineError(code, stderr, ".gif");
    }

    private static void AssertOneLineError(int code, string stderr, string expected)
    {
        Assert.NotEqual(0, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one error line, got: {stderr}");
        Assert.StartsWith("error:", lines[0]);
        Assert.Contains(expected, lines[0]);
    }
}
