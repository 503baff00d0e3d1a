using NextStep.Imaging;

namespace NextStep.Training.Shapes;

/// <summary>A straight line of <see cref="Width"/> between two points, in fractions of the image side, and its colour.</summary>
public sealed record ShapesStroke(double X0, double Y0, double X1, double Y1, double Width, (byte R, byte G, byte B) Rgb);

/// <summary>
/// Stroke augmentation for VAE training: thin lines in any colour, green included, drawn apart from a scene's objects.
/// A decoder shown only the palette's (shape, colour) pairs learns fine detail per colour: it draws the arms of a green
/// star, a pair it never saw, stubby where green is nearly as light as the gray background (the difference is all hue)
/// although it draws them on black. Lines of every colour teach it thin hue-only edges without showing any held-out
/// pair: a line is kept only if the analyser reads no shape in it, it never touches an object, and lines never touch each other.
/// </summary>
public static class ShapesStrokes
{
    /// <summary>Gap (fraction of the side) kept between a line's box and an object's box, another line or the border.</summary>
    public const double Margin = 0.04;
    private const int Supersample = 4, Tries = 40;

    /// <summary>
    /// One to three lines for <paramref name="scene"/>: length 0.12–0.4 of the side at any angle, width 0.015–0.045
    /// (1–3 pixels at 64), each a palette object colour or, half the time, a random one at least
    /// <see cref="ShapesRecolor.MinContrast"/> from the background. A line that cannot be placed apart from the objects
    /// and the lines before it, as no recognisable shape, after a few tries is left out, so a crowded scene gets fewer.
    /// </summary>
    public static IReadOnlyList<ShapesStroke> Strokes(ShapesScene scene, Random rng)
    {
        var taken = scene.Objects.Select(o => (o.X, o.Y, R: o.X + o.Width, B: o.Y + o.Height)).ToList();
        var strokes = new List<ShapesStroke>();
        int wanted = 1 + rng.Next(3);
        for (int n = 0; n < wanted; n++)
            for (int attempt = 0; attempt < Tries; attempt++)
            {
                double length = 0.12 + 0.28 * rng.NextDouble(), angle = Math.PI * rng.NextDouble(), width = 0.015 + 0.03 * rng.NextDouble();
                double dx = Math.Cos(angle) * length, dy = Math.Sin(angle) * length;
                double x0 = Margin + rng.NextDouble() * (1 - 2 * Margin), y0 = Margin + rng.NextDouble() * (1 - 2 * Margin);
                double x1 = x0 + dx, y1 = y0 + dy;
                var box = (X: Math.Min(x0, x1) - width, Y: Math.Min(y0, y1) - width, R: Math.Max(x0, x1) + width, B: Math.Max(y0, y1) + width);
                if (box.X < Margin || box.Y < Margin || box.R > 1 - Margin || box.B > 1 - Margin) continue;
                if (taken.Any(t => box.X < t.R + Margin && t.X < box.R + Margin && box.Y < t.B + Margin && t.Y < box.B + Margin)) continue;
                var stroke = new ShapesStroke(x0, y0, x1, y1, width, Colour(scene.Background, rng));
                if (ReadsAsShape(stroke, scene.Background)) continue;
                strokes.Add(stroke);
                taken.Add(box);
                break;
            }
        return strokes;
    }

    /// <summary>Draws the lines onto <paramref name="image"/> (in place), anti-aliased by 4×4 supersampling as the renderer draws shapes.</summary>
    public static void Draw(RgbImage image, IEnumerable<ShapesStroke> strokes)
    {
        int w = image.Width, h = image.Height;
        foreach (var s in strokes)
        {
            double x0 = s.X0 * w, y0 = s.Y0 * h, x1 = s.X1 * w, y1 = s.Y1 * h, half = s.Width * w / 2;
            int left = Math.Max(0, (int)Math.Floor(Math.Min(x0, x1) - half)), right = Math.Min(w, (int)Math.Ceiling(Math.Max(x0, x1) + half));
            int top = Math.Max(0, (int)Math.Floor(Math.Min(y0, y1) - half)), bottom = Math.Min(h, (int)Math.Ceiling(Math.Max(y0, y1) + half));
            if (right <= left || bottom <= top) continue;
            var cover = new float[(right - left) * (bottom - top)];
            for (int y = top; y < bottom; y++)
                for (int x = left; x < right; x++)
                {
                    int inside = 0;
                    for (int sy = 0; sy < Supersample; sy++)
                        for (int sx = 0; sx < Supersample; sx++)
                            if (Distance(x + (sx + 0.5) / Supersample, y + (sy + 0.5) / Supersample, x0, y0, x1, y1) <= half) inside++;
                    cover[(y - top) * (right - left) + (x - left)] = inside / (float)(Supersample * Supersample);
                }
            ShapesRenderer.Paint(image, left, top, right, bottom, cover, s.Rgb);
        }
    }

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

    /// <summary>True when the analyser, shown the line alone on the background, recognises a shape in it (a short thick
    /// line can pass for a square or a circle, and in orange for a held-out orange square).</summary>
    private static bool ReadsAsShape(ShapesStroke stroke, ShapeColor background)
    {
        var image = ShapesImages.Filled(ShapesRenderer.DefaultSize, ShapesRenderer.DefaultSize, ShapesVocabulary.Rgb(background));
        Draw(image, [stroke]);
        return ShapesAnalyser.Analyse(image).Detections.Any(d => d.Recognised);
    }

    /// <summary>Distance from (px, py) to the segment (x0, y0)–(x1, y1).</summary>
    private static double Distance(double px, double py, double x0, double y0, double x1, double y1)
    {
        double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
        double t = len2 == 0 ? 0 : Math.Clamp(((px - x0) * dx + (py - y0) * dy) / len2, 0, 1);
        double ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
        return Math.Sqrt(ex * ex + ey * ey);
    }
}
