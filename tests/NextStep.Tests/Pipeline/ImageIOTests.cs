using NextStep.Imaging;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Pipeline;

public class ImageIOTests
{
    private static byte[] GoldenHwc(string file, string key, int index = 0)
    {
        using var chw = Fixtures.Tensor(file, key)[index];
        using var hwc = chw.permute(1, 2, 0).contiguous();
        return hwc.data<byte>().ToArray();
    }

    [Fact]
    public void LoadsTheGoldenPngAsRgbInRowMajorOrder()
    {
        var img = ImageIO.Load(Fixtures.Path("tiny", "golden", "t2i_wide_0.png"));
        Assert.Equal((96, 32), (img.Width, img.Height));
        Assert.Equal(GoldenHwc("tiny/golden/golden.safetensors", "pipe.t2i_wide.image_u8"), img.Rgb);
    }

    [Fact]
    public void PngRoundTripsExactlyAndJpegApproximately()
    {
        var img = ImageIO.Load(Fixtures.Path("tiny", "golden", "photo64.png"));
        var dir = Directory.CreateTempSubdirectory("imgio").FullName;
        ImageIO.Save(img, Path.Combine(dir, "sub", "a.png"));
        Assert.Equal(img.Rgb, ImageIO.Load(Path.Combine(dir, "sub", "a.png")).Rgb);

        ImageIO.Save(img, Path.Combine(dir, "a.JPG"));
        var jpeg = ImageIO.Load(Path.Combine(dir, "a.JPG"));
        double meanAbs = img.Rgb.Zip(jpeg.Rgb, (a, b) => Math.Abs(a - b)).Average();
        Assert.InRange(meanAbs, 0, 8);
    }

    [Fact]
    public void BadFilesGiveClearErrors()
    {
        var dir = Directory.CreateTempSubdirectory("imgio").FullName;
        var missing = Path.Combine(dir, "missing.png");
        Assert.Contains("not found", Assert.Throws<NextStepException>(() => ImageIO.Load(missing)).Message);

        var garbage = Path.Combine(dir, "garbage.png");
        File.WriteAllBytes(garbage, "this is not an image at all"u8.ToArray());
        Assert.Contains("not a readable image", Assert.Throws<NextStepException>(() => ImageIO.Load(garbage)).Message);

        var truncated = Path.Combine(dir, "truncated.png");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Fixtures.Path("tiny", "golden", "photo64.png")).AsSpan(0, 40).ToArray());
        Assert.Throws<NextStepException>(() => ImageIO.Load(truncated));

        var img = new RgbImage(2, 2, new byte[12]);
        Assert.Contains("unsupported output extension", Assert.Throws<NextStepException>(() => ImageIO.Save(img, Path.Combine(dir, "x.bmp"))).Message);
    }

    [Fact]
    public void BicubicResizeKeepsConstantsAndOrder()
    {
        // A constant image stays constant (weights sum to one), a horizontal ramp stays a non-decreasing ramp.
        var constant = new RgbImage(48, 40, Enumerable.Repeat((byte)200, 48 * 40 * 3).ToArray());
        Assert.All(ImageResize.Bicubic(constant, 16, 32).Rgb, v => Assert.Equal(200, v));
        Assert.All(ImageResize.Bicubic(constant, 100, 70).Rgb, v => Assert.Equal(200, v));

        var ramp = new byte[64 * 8 * 3];
        for (int y = 0; y < 8; y++) for (int x = 0; x < 64; x++) for (int c = 0; c < 3; c++) ramp[(y * 64 + x) * 3 + c] = (byte)(x * 4);
        var small = ImageResize.Bicubic(new RgbImage(64, 8, ramp), 16, 8);
        var row = Enumerable.Range(0, 16).Select(x => (int)small.Rgb[x * 3]).ToArray();
        for (int x = 1; x < 16; x++) Assert.True(row[x] >= row[x - 1], $"ramp not monotone at {x}: {string.Join(",", row)}");
        // pixel x of the 4× reduction covers inputs 4x..4x+3 (values 16x..16x+12): its centre value is 16x + 6.
        for (int x = 2; x < 14; x++) Assert.InRange(row[x], 16 * x + 5, 16 * x + 7);

        var same = new RgbImage(16, 16, new byte[16 * 16 * 3]);
        Assert.Same(same, ImageResize.Bicubic(same, 16, 16));
    }
}
