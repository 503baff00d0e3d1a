namespace NextStep.Training.Shapes;

/// <summary>
/// A spiky blot: <see cref="Points"/> spikes around (<see cref="Cx"/>, <see cref="Cy"/>) reaching about
/// <see cref="Radius"/> (fractions of the image side), notches at <see cref="Inner"/> of it, turned by
/// <see cref="Rotation"/> radians; each tip and notch is moved in angle and radius by an amount drawn from
/// <see cref="Jitter"/>, so no two blots are alike.
/// </summary>
public sealed record ShapesBurr(double Cx, double Cy, double Radius, int Points, double Inner, double Rotation, int Jitter, (byte R, byte G, byte B) Rgb) : ShapesMark(Rgb)
{
    private (double X, double Y)[]? outline; // a cache of the outline, left out of equality below

    /// <summary>The polygon, tips and notches in turn, in fractions of the side.</summary>
    public (double X, double Y)[] Outline => outline ??= MakeOutline();

    public override (double X, double Y, double R, double B) Box
        => (Outline.Min(p => p.X), Outline.Min(p => p.Y), Outline.Max(p => p.X), Outline.Max(p => p.Y));

    public override bool Covers(double x, double y, int size) => ShapeGeometry.InPolygon(Outline, x / size, y / size);

    public bool Equals(ShapesBurr? other) => other is not null && (Cx, Cy, Radius, Points, Inner, Rotation, Jitter, Rgb) == (other.Cx, other.Cy, other.Radius, other.Points, other.Inner, other.Rotation, other.Jitter, other.Rgb);

    public override int GetHashCode() => HashCode.Combine(Cx, Cy, Radius, Points, Inner, Rotation, Jitter, Rgb);

    private (double X, double Y)[] MakeOutline()
    {
        var rng = new Random(Jitter);
        double step = Math.PI / Points;
        return Enumerable.Range(0, 2 * Points).Select(i =>
        {
            double angle = Rotation + i * step + (rng.NextDouble() - 0.5) * 0.5 * step;
            double r = Radius * (i % 2 == 0 ? 1 : Inner) * (0.8 + 0.4 * rng.NextDouble());
            return (Cx + r * Math.Cos(angle), Cy + r * Math.Sin(angle));
        }).ToArray();
    }
}

/// <summary>
/// Burr augmentation for VAE training: spiky blots in any colour, green included, drawn apart from a scene's objects.
/// Lines (<see cref="ShapesStrokes"/>) teach a decoder thin edges in every colour; a green star also needs sharp points
/// and notches. (Tried on the default model's decoder, they did not bring back more green stars: docs/DEFAULT_MODEL.md, step 36.) Blots have 3, 4, 6, 7 or 8 uneven spikes (never
/// five: a five-pointed blot is a star), and one is kept only if the analyser, shown it alone, recognises no shape in
/// it, so no held-out pair is ever drawn.
/// </summary>
public static class ShapesBurrs
{
    private static readonly int[] PointCounts = [3, 4, 6, 7, 8];

    /// <summary>
    /// One or two blots for <paramref name="scene"/>, clear of its objects and of <paramref name="marks"/> (drawn
    /// before; <see cref="ShapesMarks.Place"/>): radius 0.07–0.14 of the side, notches at 0.3–0.6 of it, each in a
    /// <see cref="ShapesMarks.Colour"/>.
    /// </summary>
    public static IReadOnlyList<ShapesBurr> Burrs(ShapesScene scene, Random rng, IEnumerable<ShapesMark>? marks = null)
        => ShapesMarks.Place(scene, rng, 1 + rng.Next(2), () =>
        {
            double radius = 0.07 + 0.07 * rng.NextDouble();
            return new ShapesBurr(radius + rng.NextDouble() * (1 - 2 * radius), radius + rng.NextDouble() * (1 - 2 * radius), radius,
                PointCounts[rng.Next(PointCounts.Length)], 0.3 + 0.3 * rng.NextDouble(), 2 * Math.PI * rng.NextDouble(), rng.Next(), default);
        }, marks);
}
