using NextStep.Imaging;
using NextStep.Training.Shapes;
using Xunit;

namespace NextStep.Tests.Shapes;

/// <summary>The pair-by-pair VAE probe (<c>nextstep probe-vae</c>), checked with round trips whose answer is known.</summary>
public class ShapesVaeProbeTests
{
    [Fact]
    public void MaskIouIsTheSoftOverlapOfTheObjectColourMasks()
    {
        // Pixel 0: the colour in a, half-way to it in b (masks 1 and 0.5); pixel 1: background in a, the colour in b
        // (masks 0 and 1); pixel 2: a tenth of the way in both (below the 0.2 cut: 0 and 0).
        (byte R, byte G, byte B) bg = (100, 100, 100), colour = (200, 100, 100);
        var a = new RgbImage(3, 1, [200, 100, 100, 100, 100, 100, 110, 100, 100]);
        var b = new RgbImage(3, 1, [150, 100, 100, 200, 100, 100, 110, 100, 100]);
        Assert.Equal((0.5 + 0 + 0) / (1 + 1 + 0), ShapesVaeProbe.MaskIou(a, b, colour, bg), 12);
        Assert.Equal(1, ShapesVaeProbe.MaskIou(a, a, colour, bg), 12);
    }

    [Fact]
    public void ALosslessRoundTripKeepsEveryPairAndABlankOneNone()
    {
        var cells = ShapesVaeProbe.Run(image => image, ShapeColor.Gray, 3);
        Assert.Equal(ShapesVocabulary.Kinds.Length * 9, cells.Count);
        Assert.All(cells, c => Assert.Equal(1, c.MaskIou, 12));
        Assert.Equal(ShapesSplits.HeldOutPairs.OrderBy(p => p), cells.Where(c => c.HeldOut).Select(c => (c.Shape, c.Color)).OrderBy(p => p));

        var onWhite = ShapesVaeProbe.Run(image => ShapesImages.Filled(image.Width, image.Height, ShapesVocabulary.Rgb(ShapeColor.White)), ShapeColor.White, 2);
        Assert.Equal(ShapesVocabulary.Kinds.Length * 8, onWhite.Count);
        Assert.DoesNotContain(onWhite, c => c.Color == ShapeColor.White);
        Assert.All(onWhite, c => Assert.Equal(0, c.MaskIou, 12));
    }

    [Fact]
    public void AShiftHurtsThinShapesMoreThanSolidOnes()
    {
        // Moving every pixel two to the right: a square of 13–19 pixels keeps most of its area, a star's arms and a
        // cross's bars lose more, and no colour changes the outline (the masks are colour-normalised).
        var cells = ShapesVaeProbe.Run(Shift, ShapeColor.Gray, 10);
        double Mean(ShapeKind k) => cells.Where(c => c.Shape == k).Average(c => c.MaskIou);
        Assert.InRange(Mean(ShapeKind.Square), 0.75, 0.95);
        Assert.True(Mean(ShapeKind.Star) < Mean(ShapeKind.Square) - 0.05, $"star {Mean(ShapeKind.Star):F3}, square {Mean(ShapeKind.Square):F3}");
        Assert.True(Mean(ShapeKind.Cross) < Mean(ShapeKind.Square) - 0.05, $"cross {Mean(ShapeKind.Cross):F3}, square {Mean(ShapeKind.Square):F3}");
        foreach (var shape in ShapesVocabulary.Kinds)
            Assert.InRange(cells.Where(c => c.Shape == shape).Max(c => c.MaskIou) - cells.Where(c => c.Shape == shape).Min(c => c.MaskIou), 0, 0.02);
    }

    [Fact]
    public void BadSettingsAndRoundTripsAreNamed()
    {
        Assert.Contains("0 objects per pair", Assert.Throws<NextStepException>(() => ShapesVaeProbe.Run(i => i, ShapeColor.Gray, 0)).Message);
        var small = Assert.Throws<NextStepException>(() => ShapesVaeProbe.Run(_ => ShapesImages.Filled(32, 32, (0, 0, 0)), ShapeColor.Gray, 1));
        Assert.Contains("returned 32×32 for a 64×64 image", small.Message);
    }

    private static RgbImage Shift(RgbImage image)
    {
        var rgb = new byte[image.Rgb.Length];
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
            {
                int from = (y * image.Width + Math.Max(0, x - 2)) * 3, to = (y * image.Width + x) * 3;
                rgb[to] = image.Rgb[from]; rgb[to + 1] = image.Rgb[from + 1]; rgb[to + 2] = image.Rgb[from + 2];
            }
        return new RgbImage(image.Width, image.Height, rgb);
    }
}
