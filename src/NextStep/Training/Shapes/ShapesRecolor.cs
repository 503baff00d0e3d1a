namespace NextStep.Training.Shapes;

/// <summary>
/// Colour augmentation for VAE training: draws some objects of a scene in a random colour instead of their palette
/// colour, so that the VAE learns to draw every shape in every colour rather than the (shape, colour) pairs it was
/// shown. The held-out pairs stay out: a random colour whose nearest palette colour would make a held-out pair with
/// the object's shape (<see cref="ShapesSplits.HeldOutPairs"/>: what the analyser would read as, say, a green star) is
/// drawn again, and so is one too close to the background to be seen.
/// </summary>
public static class ShapesRecolor
{
    /// <summary>Least Euclidean RGB distance (0..255) between a random object colour and the background.</summary>
    public const double MinContrast = 64;

    /// <summary>
    /// One colour per object of <paramref name="scene"/>: with probability <paramref name="fraction"/> a random
    /// colour (uniform in the RGB cube, redrawn until it is allowed), else the object's palette colour.
    /// </summary>
    public static IReadOnlyList<(byte R, byte G, byte B)> Colors(ShapesScene scene, Random rng, double fraction)
    {
        if (!(fraction >= 0 && fraction <= 1)) throw new NextStepException($"recolour fraction {fraction}: expected a probability in [0, 1]");
        return scene.Objects.Select(o =>
        {
            if (rng.NextDouble() >= fraction) return ShapesVocabulary.Rgb(o.Color);
            while (true)
            {
                var rgb = ((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
                if (Allowed(o.Shape, rgb, scene.Background)) return rgb;
            }
        }).ToArray();
    }

    /// <summary>
    /// True when <paramref name="rgb"/> is visible on the background and does not read as a held-out pair: neither its
    /// nearest object colour nor its nearest one other than the background's (the analyser does not label pixels with
    /// the background colour) makes a held-out pair with <paramref name="shape"/>.
    /// </summary>
    public static bool Allowed(ShapeKind shape, (byte R, byte G, byte B) rgb, ShapeColor background)
    {
        var p = (rgb.R, rgb.G, (double)rgb.B);
        return Visible(rgb, background)
               && !ShapesSplits.IsHeldOut(shape, Nearest(p, ShapesVocabulary.ObjectColors))
               && !ShapesSplits.IsHeldOut(shape, Nearest(p, ShapesVocabulary.ObjectColors.Where(c => c != background)));
    }

    /// <summary>True when <paramref name="rgb"/> lies at least <see cref="MinContrast"/> from the background colour.</summary>
    public static bool Visible((byte R, byte G, byte B) rgb, ShapeColor background)
        => ShapesAnalyser.Distance2(ShapesVocabulary.Rgb(background), (rgb.R, rgb.G, (double)rgb.B)) >= MinContrast * MinContrast;

    private static ShapeColor Nearest((double R, double G, double B) p, IEnumerable<ShapeColor> colors)
        => colors.MinBy(c => ShapesAnalyser.Distance2(ShapesVocabulary.Rgb(c), p));
}
