using NextStep.Imaging;
using NextStep.Pipeline;
using NextStep.Tests.Support;
using SkiaSharp;
using Xunit;

namespace NextStep.Tests.Imaging;

public class PngMetadataTests
{
    private static readonly ImageMetadata Sample = new()
    {
        Prompt = "a red circle above a blue square — 東京 🌸", Negative = "blurry", Seed = 42, Steps = 28, Cfg = 7.5, CfgImg = 2.0,
        Shift = 3.2, UseNorm = true, Width = 64, Height = 64, Sampler = "github2025", Model = "tiny", ModelHash = "0123456789",
    };

    [Fact]
    public void TextChunksRoundTripAndPixelsAreUntouched()
    {
        var original = File.ReadAllBytes(Fixtures.Path("tiny", "golden", "t2i_cfg_0.png"));
        var tagged = Sample.EmbedInPng(original);
        var text = PngMetadata.ReadText(tagged);
        Assert.StartsWith("a red circle above a blue square", text["parameters"]);
        Assert.Contains("\nNegative prompt: blurry\nSteps: 28, Sampler: github2025, CFG scale: 7.5, Image CFG scale: 2", text["parameters"]);
        var dir = Directory.CreateTempSubdirectory("meta");
        var path = Path.Combine(dir.FullName, "x.png");
        File.WriteAllBytes(path, tagged);
        Assert.Equal(Sample, ImageMetadata.Read(path));
        using var a = SKBitmap.Decode(original);
        using var b = SKBitmap.Decode(tagged);
        Assert.Equal(a.GetPixelSpan().ToArray(), b.GetPixelSpan().ToArray());
        // Writing again replaces rather than duplicates the chunks.
        var twice = (Sample with { Seed = 7 }).EmbedInPng(tagged);
        Assert.Equal(7, ImageMetadata.Read(WriteTemp(dir, twice)).Seed);
        Assert.Equal(2, PngMetadata.ReadText(twice).Count);
        dir.Delete(true);
    }

    private static string WriteTemp(DirectoryInfo dir, byte[] bytes) { var p = Path.Combine(dir.FullName, Guid.NewGuid() + ".png"); File.WriteAllBytes(p, bytes); return p; }

    [Fact]
    public void CorruptPngAndMissingMetadataAreClearErrors()
    {
        var dir = Directory.CreateTempSubdirectory("meta");
        var png = File.ReadAllBytes(Fixtures.Path("tiny", "golden", "t2i_cfg_0.png"));
        var e = Assert.Throws<NextStepException>(() => ImageMetadata.Read(WriteTemp(dir, png)));
        Assert.Contains("no NextStep generation parameters", e.Message);
        var truncated = png[..40];
        e = Assert.Throws<NextStepException>(() => PngMetadata.ReadText(truncated, "cut.png"));
        Assert.Contains("cut.png", e.Message);
        e = Assert.Throws<NextStepException>(() => PngMetadata.ReadText([1, 2, 3], "junk"));
        Assert.Contains("not a PNG", e.Message);
        dir.Delete(true);
    }

    [Theory]
    [InlineData("1:1", 512, 512, 512)]
    [InlineData("16:9", 512, 384, 672)]   // official 512-px table: 384×672
    [InlineData("9:16", 512, 672, 384)]
    [InlineData("4:1", 512, 256, 1024)]
    [InlineData("3:2", 256, 208, 304)]    // grid (13,19) at the 256-px base
    public void AspectPicksTheNearestOfficialGrid(string aspect, int side, int h, int w)
    {
        Assert.Equal((h, w), Presets.ForAspect(aspect, side));
    }

    [Fact]
    public void BadAspectAndPresetNamesAreRejected()
    {
        Assert.Contains("16x", Assert.Throws<NextStepException>(() => Presets.ForAspect("16x", 512)).Message);
        Assert.Contains("ultra", Assert.Throws<NextStepException>(() => Presets.Get("ultra", true)).Message);
        Assert.Equal(new Preset("standard", 768, 28, 7.5), Presets.Get("standard", true));
    }
}
