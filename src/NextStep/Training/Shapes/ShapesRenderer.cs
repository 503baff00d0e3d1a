using NextStep.Imaging;
namespace NextStep.Training.Shapes;

/// <summary>
/// Draws a scene: solid background, then each object as its <see cref="ShapeGeometry"/> region, anti-aliased by
/// 4×4 supersampling. Pure integer and exact floating-point arithmetic, so every machine produces the same bytes.
/// </summary>
public static class ShapesRenderer
{
    public const int DefaultSize = 64;
    private const int Supersample = 4;

    /// <summary>Draws the scene; <paramref name="objectRgb"/>, when given, replaces the palette colour of each object
    /// (one entry per object, in order), e.g. for <see cref="ShapesRecolor"/>.</summary>
    public static RgbImage Render(ShapesScene scene, int width = DefaultSize, int height = DefaultSize, IReadOnlyList<(byte R, byte G, byte B)>? objectRgb = null)
    {
        if (width < 16 || height < 16) throw new NextStepException($"Shapes image size {width}x{height} is too small (expected at least 16x16)");
        if (objectRgb is not null && objectRgb.Count != scene.Objects.Count)
            throw new NextStepException($"Shapes rendering: {objectRgb.Count} object colours for a scene of {scene.Objects.Count} objects");
        var image = ShapesImages.Filled(width, height, ShapesVocabulary.Rgb(scene.Background));
        for (int k = 0; k < scene.Objects.Count; k++) Draw(image, scene.Objects[k], objectRgb?[k] ?? ShapesVocabulary.Rgb(scene.Objects[k].Color));
        return image;
    }

    private static void Draw(RgbImage image, ShapeObject o, (byte R, byte G, byte B) rgb)
    {
        double x0 = o.X * image.Width, y0 = o.Y * image.Height, w = o.Width * image.Width, h = o.Height * image.Height;
        int left = Math.Max(0, (int)Math.Floor(x0)), top = Math.Max(0, (int)Math.Floor(y0));
        int right = Math.Min(image.Width, (int)Math.Ceiling(x0 + w)), bottom = Math.Min(image.Height, (int)Math.Ceiling(y0 + h));
        if (right <= left || bottom <= top) return;
        Paint(image, left, top, right, bottom, ShapeGeometry.Coverage(o.Shape, x0, y0, w, h, left, top, right - left, bottom - top, Supersample), rgb);
    }

    /// <summary>Blends <paramref name="rgb"/> over the window [left, right) × [top, bottom) of the image, each pixel by
    /// its fraction in <paramref name="cover"/> (row-major over the window; 0 leaves the pixel as it is).</summary>
    internal static void Paint(RgbImage image, int left, int top, int right, int bottom, float[] cover, (byte R, byte G, byte B) rgb)
    {
        var (r, g, b) = rgb;
        var px = image.Rgb;
        for (int y = top; y < bottom; y++)
            for (int x = left; x < right; x++)
            {
                float c = cover[(y - top) * (right - left) + (x - left)];
                if (c == 0) continue;
                int i = (y * image.Width + x) * 3;
                px[i] = Blend(px[i], r, c);
                px[i + 1] = Blend(px[i + 1], g, c);
                px[i + 2] = Blend(px[i + 2], b, c);
            }
    }

    private static byte Blend(byte under, byte over, float c) => (byte)Math.Round(under + (over - under) * c, MidpointRounding.AwayFromZero);
}
