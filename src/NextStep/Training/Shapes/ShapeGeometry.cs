namespace NextStep.Training.Shapes;

/// <summary>
/// Each shape kind as a region of the unit box (u to the right, v downwards), touching all four sides.
/// The renderer rasterises these regions and the analyser uses them as templates, so both agree on what a shape is.
/// Only exact arithmetic is used (no trigonometry at run time), so every machine rasterises identical pixels.
/// </summary>
public static class ShapeGeometry
{
    /// <summary>Five-pointed star, point up, inner radius 0.42 of the outer, stretched to the unit box.</summary>
    private static readonly (double U, double V)[] Star =
    [
        (0.5000, 0.0000), (0.6298, 0.3650), (1.0000, 0.3820), (0.7100, 0.6245), (0.8090, 1.0000),
        (0.5000, 0.7850), (0.1910, 1.0000), (0.2900, 0.6245), (0.0000, 0.3820), (0.3702, 0.3650),
    ];

    private const double CrossHalfArm = 1.0 / 6.0;

    public static bool Contains(ShapeKind kind, double u, double v)
    {
        if (u < 0 || u > 1 || v < 0 || v > 1) return false;
        return kind switch
        {
            ShapeKind.Circle => (u - 0.5) * (u - 0.5) + (v - 0.5) * (v - 0.5) <= 0.25,
            ShapeKind.Square => true,
            ShapeKind.Triangle => Math.Abs(u - 0.5) * 2 <= v,
            ShapeKind.Cross => Math.Abs(u - 0.5) <= CrossHalfArm || Math.Abs(v - 0.5) <= CrossHalfArm,
            ShapeKind.Star => InPolygon(Star, u, v),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    /// <summary>Fraction of a w×h pixel box covered by the shape, sampling n×n points per pixel; row-major, h rows.</summary>
    public static float[] Coverage(ShapeKind kind, double x0, double y0, double w, double h, int left, int top, int cols, int rows, int n)
    {
        var cover = new float[cols * rows];
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
            {
                int hits = 0;
                for (int sy = 0; sy < n; sy++)
                    for (int sx = 0; sx < n; sx++)
                    {
                        double px = left + x + (sx + 0.5) / n, py = top + y + (sy + 0.5) / n;
                        if (Contains(kind, (px - x0) / w, (py - y0) / h)) hits++;
                    }
                cover[y * cols + x] = hits / (float)(n * n);
            }
        return cover;
    }

    /// <summary>Even-odd test of (u, v) against a closed polygon.</summary>
    internal static bool InPolygon((double U, double V)[] poly, double u, double v)
    {
        bool inside = false;
        for (int i = 0, j = poly.Length - 1; i < poly.Length; j = i++)
        {
            var (ui, vi) = poly[i];
            var (uj, vj) = poly[j];
            if ((vi > v) != (vj > v) && u < (uj - ui) * (v - vi) / (vj - vi) + ui) inside = !inside;
        }
        return inside;
    }
}
