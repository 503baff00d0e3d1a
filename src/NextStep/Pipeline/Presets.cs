namespace NextStep.Pipeline;

/// <summary>A named quality preset: image side, sampling steps and guidance.</summary>
public sealed record Preset(string Name, int Size, int Steps, double Cfg);

/// <summary>
/// Presets and the official aspect-ratio table. Full-size models (hidden size ≥ 2048) use the published
/// draft/standard/premium settings; smaller models (the project's default model) use sizes scaled to what they
/// were trained at.
/// </summary>
public static class Presets
{
    private static readonly Preset[] FullSize = [new("draft", 512, 20, 6.0), new("standard", 768, 28, 7.5), new("premium", 1024, 40, 8.5)];
    private static readonly Preset[] Small = [new("draft", 64, 20, 3.0), new("standard", 64, 40, 3.0), new("premium", 64, 50, 3.0)];

    public static IReadOnlyList<string> Names { get; } = ["draft", "standard", "premium"];

    public static Preset Get(string name, bool fullSizeModel)
    {
        var table = fullSizeModel ? FullSize : Small;
        return table.FirstOrDefault(p => p.Name == name)
            ?? throw new NextStepException($"--preset: unknown preset \"{name}\" (expected one of {string.Join(", ", Names)})");
    }

    /// <summary>The official token-grid aspect ratios (h, w) at a 256-token base (<c>aspect_ratio.py</c>).</summary>
    public static IReadOnlyList<(int H, int W)> HwAspectRatios { get; } =
        [(8, 32), (9, 28), (10, 25), (11, 23), (12, 21), (13, 19), (14, 18), (15, 17), (16, 16), (17, 15), (18, 14), (19, 13), (21, 12), (23, 11), (25, 10), (28, 9), (32, 8)];

    /// <summary>
    /// The official grid nearest (in log aspect ratio) to "W:H", scaled so that the square entry has
    /// <paramref name="squareSide"/> pixels a side; sides are multiples of <paramref name="downFactor"/>.
    /// </summary>
    public static (int Height, int Width) ForAspect(string aspect, int squareSide, int downFactor = 16)
    {
        var parts = aspect.Split(':', 'x', '/');
        if (parts.Length != 2 || !double.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out double aw)
            || !double.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out double ah) || aw <= 0 || ah <= 0)
            throw new NextStepException($"--aspect: \"{aspect}\" is not a ratio like 16:9");
        double want = Math.Log(aw / ah);
        var (h, w) = HwAspectRatios.MinBy(g => Math.Abs(Math.Log((double)g.W / g.H) - want));
        double scale = squareSide / 16.0 / downFactor;
        int Round(int g) => Math.Max(1, (int)Math.Round(g * scale)) * downFactor;
        return (Round(h), Round(w));
    }
}
