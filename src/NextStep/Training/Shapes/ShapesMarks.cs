using NextStep.Imaging;

namespace NextStep.Training.Shapes;

/// <summary>
/// A mark drawn over a training scene for the VAE only (never captioned): a thin line (<see cref="ShapesStroke"/>) or a
/// spiky blot (<see cref="ShapesBurr"/>), in <see cref="Rgb"/>.
/// </summary>
public abstract record ShapesMark((byte R, byte G, byte B) Rgb)
{
    /// <summary>A box that holds the mark, in fractions of the image side (left, top, right, bottom).</summary>
    public abstract (double X, double Y, double R, double B) Box { get; }

    /// <summary>True when the point (<paramref name="x"/>, <paramref name="y"/>), in pixels of a <paramref name="size"/>-pixel square image, is inside the mark.</summary>
    public abstract bool Covers(double x, double y, int size);
}

/// <summary>What the mark augmentations (<see cref="ShapesStrokes"/>, <see cref="ShapesBurrs"/>) share: placement apart
/// from the objects, colours, the analyser check and anti-aliased drawing.</summary>
public static class ShapesMarks
{
    /// <summary>Gap (fraction of the side) kept between a mark's box and an object's box, another mark or the border.</summary>
    public const double Margin = 0.04;
    private const int Supersample = 4;

    private const int Tries = 40;

    /// <summary>
    /// Up to <paramref name="wanted"/> marks for <paramref name="scene"/>, clear of its objects and of <paramref name="before"/>:
    /// each try takes a shape from <paramref name="propose"/>, keeps it only if it <see cref="Fits"/>, gives it a
    /// <see cref="Colour"/> and drops it if the analyser <see cref="ReadsAsShape"/>; a mark that finds no place in a few
    /// tries is left out, so a crowded scene gets fewer.
    /// </summary>
    public static IReadOnlyList<T> Place<T>(ShapesScene scene, Random rng, int wanted, Func<T> propose, IEnumerable<ShapesMark>? before = null) where T : ShapesMark
    {
        var placed = new List<T>();
        var taken = Taken(scene, before ?? []);
        for (int n = 0; n < wanted; n++)
            for (int attempt = 0; attempt < Tries; attempt++)
            {
                var mark = propose();
                if (!Fits(mark.Box, taken)) continue;
                mark = (T)(mark with { Rgb = Colour(scene.Background, rng) });
                if (ReadsAsShape(mark, scene.Background)) continue;
                placed.Add(mark);
                taken.Add(mark.Box);
                break;
            }
        return placed;
    }

    /// <summary>The boxes a new mark must keep clear of: the scene's objects and the marks placed before.</summary>
    private static List<(double X, double Y, double R, double B)> Taken(ShapesScene scene, IEnumerable<ShapesMark> marks)
        => scene.Objects.Select(o => (o.X, o.Y, R: o.X + o.Width, B: o.Y + o.Height)).Concat(marks.Select(m => m.Box)).ToList();

    /// <summary>True when <paramref name="box"/> keeps <see cref="Margin"/> from the border and from every taken box.</summary>
    private static bool Fits((double X, double Y, double R, double B) box, IEnumerable<(double X, double Y, double R, double B)> taken)
        => box.X >= Margin && box.Y >= Margin && box.R <= 1 - Margin && box.B <= 1 - Margin
           && !taken.Any(t => box.X < t.R + Margin && t.X < box.R + Margin && box.Y < t.B + Margin && t.Y < box.B + Margin);

    /// <summary>A palette object colour other than the background or, half the time, a random colour at least
    /// <see cref="ShapesRecolor.MinContrast"/> from it.</summary>
    private static (byte R, byte G, byte B) Colour(ShapeColor background, Random rng)
    {
        var palette = ShapesVocabulary.ObjectColors.Where(c => c != background).ToArray();
        if (rng.NextDouble() < 0.5) return ShapesVocabulary.Rgb(palette[rng.Next(palette.Length)]);
        while (true)
        {
            var rgb = ((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
            if (ShapesRecolor.Visible(rgb, background)) return rgb;
        }
    }

    /// <summary>True when the analyser, shown the mark alone on the background, recognises a shape in it (a short thick
    /// line can pass for a square, a blot with few points for a triangle or a cross; in orange or red such a reading
    /// would be a held-out pair).</summary>
    private static bool ReadsAsShape(ShapesMark mark, ShapeColor background)
    {
        var image = ShapesImages.Filled(ShapesRenderer.DefaultSize, ShapesRenderer.DefaultSize, ShapesVocabulary.Rgb(background));
        Draw(image, [mark]);
        return ShapesAnalyser.Analyse(image).Detections.Any(d => d.Recognised);
    }

    /// <summary>Draws the marks onto a square <paramref name="image"/> (in place), anti-aliased by 4×4 supersampling as the renderer draws shapes.</summary>
    public static void Draw(RgbImage image, IEnumerable<ShapesMark> marks)
    {
        int size = image.Width;
        if (image.Height != size) throw new ArgumentException($"marks are drawn on square images, not {image.Width}×{image.Height}", nameof(image));
        foreach (var m in marks)
        {
            var box = m.Box;
            int left = Math.Max(0, (int)Math.Floor(box.X * size)), right = Math.Min(size, (int)Math.Ceiling(box.R * size));
            int top = Math.Max(0, (int)Math.Floor(box.Y * size)), bottom = Math.Min(size, (int)Math.Ceiling(box.B * size));
            if (right <= left || bottom <= top) continue;
            var cover = new float[(right - left) * (bottom - top)];
            for (int y = top; y < bottom; y++)
                for (int x = left; x < right; x++)
                {
                    int inside = 0;
                    for (int sy = 0; sy < Supersample; sy++)
                        for (int sx = 0; sx < Supersample; sx++)
                            if (m.Covers(x + (sx + 0.5) / Supersample, y + (sy + 0.5) / Supersample, size)) inside++;
                    cover[(y - top) * (right - left) + (x - left)] = inside / (float)(Supersample * Supersample);
                }
            ShapesRenderer.Paint(image, left, top, right, bottom, cover, m.Rgb);
        }
    }
}
