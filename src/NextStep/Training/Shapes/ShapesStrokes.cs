namespace NextStep.Training.Shapes;

/// <summary>A straight line of <see cref="Width"/> between two points, in fractions of the image side, and its colour.</summary>
public sealed record ShapesStroke(double X0, double Y0, double X1, double Y1, double Width, (byte R, byte G, byte B) Rgb) : ShapesMark(Rgb)
{
    public override (double X, double Y, double R, double B) Box
        => (Math.Min(X0, X1) - Width, Math.Min(Y0, Y1) - Width, Math.Max(X0, X1) + Width, Math.Max(Y0, Y1) + Width);

    public override bool Covers(double x, double y, int size)
        => Distance(x, y, X0 * size, Y0 * size, X1 * size, Y1 * size) <= Width * size / 2;

    /// <summary>Distance from (px, py) to the segment (x0, y0)–(x1, y1).</summary>
    private static double Distance(double px, double py, double x0, double y0, double x1, double y1)
    {
        double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
        double t = len2 == 0 ? 0 : Math.Clamp(((px - x0) * dx + (py - y0) * dy) / len2, 0, 1);
        double ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
        return Math.Sqrt(ex * ex + ey * ey);
    }
}

/// <summary>
/// Stroke augmentation for VAE training: thin lines in any colour, green included, drawn apart from a scene's objects.
/// A decoder shown only the palette's (shape, colour) pairs learns fine detail per colour: it draws the arms of a green
/// star, a pair it never saw, stubby (<c>nextstep probe-vae</c>). Lines of every colour teach it thin edges in every
/// colour without showing any held-out pair: a line is kept only if the analyser reads no shape in it, it never touches an object, and lines never touch each other.
/// </summary>
public static class ShapesStrokes
{
    /// <summary>
    /// One to three lines for <paramref name="scene"/> (<see cref="ShapesMarks.Place"/>): length 0.12–0.4 of the side at
    /// any angle, width 0.015–0.045 (1–3 pixels at 64), each in a <see cref="ShapesMarks.Colour"/>.
    /// </summary>
    public static IReadOnlyList<ShapesStroke> Strokes(ShapesScene scene, Random rng)
        => ShapesMarks.Place(scene, rng, 1 + rng.Next(3), () =>
        {
            double length = 0.12 + 0.28 * rng.NextDouble(), angle = Math.PI * rng.NextDouble(), width = 0.015 + 0.03 * rng.NextDouble();
            double x0 = ShapesMarks.Margin + rng.NextDouble() * (1 - 2 * ShapesMarks.Margin), y0 = ShapesMarks.Margin + rng.NextDouble() * (1 - 2 * ShapesMarks.Margin);
            return new ShapesStroke(x0, y0, x0 + Math.Cos(angle) * length, y0 + Math.Sin(angle) * length, width, default);
        });
}
