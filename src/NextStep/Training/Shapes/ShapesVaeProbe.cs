using NextStep.Imaging;

namespace NextStep.Training.Shapes;

/// <summary>How well a round trip keeps one (shape, colour) pair's outline: the mean soft IoU of the object's colour
/// mask before and after, over <see cref="Objects"/> objects; <see cref="HeldOut"/> when the pair is held out of training.</summary>
public sealed record ShapesProbeCell(ShapeKind Shape, ShapeColor Color, double MaskIou, int Objects, bool HeldOut);

/// <summary>
/// Probes a VAE (or any image → image round trip) pair by pair: single objects of every shape in every object colour
/// other than the background, 0.2–0.3 of the side at random places, are rendered, sent through the round trip and
/// compared by their colour masks. The mask is how much of the object colour a pixel holds (<see cref="ColourShare"/>, as
/// the analyser reads objects), so both a blunted outline and a
/// shifted colour lower the score. A decoder that draws a shape well in most colours but not in one shows it at once:
/// the default model's decoder keeps green circles and crosses but not green stars, the pair it never saw (docs/DEFAULT_MODEL.md, step 36).
/// </summary>
public static class ShapesVaeProbe
{
    /// <summary>One cell per shape kind and object colour other than <paramref name="background"/>, in enum order; the
    /// objects' sizes and places come from <paramref name="seed"/> and are the same for every cell. <paramref name="progress"/>
    /// hears of each finished cell.</summary>
    public static IReadOnlyList<ShapesProbeCell> Run(Func<RgbImage, RgbImage> roundTrip, ShapeColor background, int objects, int seed = 0,
        int size = ShapesRenderer.DefaultSize, Action<ShapesProbeCell>? progress = null)
    {
        if (objects < 1) throw new NextStepException($"VAE probe: {objects} objects per pair is invalid (expected at least 1)");
        var bg = ShapesVocabulary.Rgb(background);
        var rng = new Random(seed);
        var places = Enumerable.Range(0, objects).Select(_ =>
        {
            double side = 0.2 + 0.1 * rng.NextDouble();
            return (X: 0.05 + (0.9 - side) * rng.NextDouble(), Y: 0.05 + (0.9 - side) * rng.NextDouble(), Side: side);
        }).ToList();
        var cells = new List<ShapesProbeCell>();
        foreach (var shape in ShapesVocabulary.Kinds)
            foreach (var color in ShapesVocabulary.ObjectColors.Where(c => c != background))
            {
                double sum = 0;
                foreach (var (x, y, side) in places)
                {
                    var scene = new ShapesScene("", new ShapesSpec(ShapesCategory.SingleObject, [new(shape, color)], null, background), background,
                        [new ShapeObject(shape, color, x, y, side, side)]);
                    var image = ShapesRenderer.Render(scene, size, size);
                    var back = roundTrip(image);
                    if (back.Width != size || back.Height != size) throw new NextStepException($"VAE probe: the round trip returned {back.Width}×{back.Height} for a {size}×{size} image");
                    sum += MaskIou(image, back, ShapesVocabulary.Rgb(color), bg);
                }
                cells.Add(new ShapesProbeCell(shape, color, sum / objects, objects, ShapesSplits.IsHeldOut(shape, color)));
                progress?.Invoke(cells[^1]);
            }
        return cells;
    }

    /// <summary>Soft IoU of the <paramref name="color"/> masks of two images of the same size on <paramref name="background"/> (1 when both are empty).</summary>
    public static double MaskIou(RgbImage a, RgbImage b, (byte R, byte G, byte B) color, (byte R, byte G, byte B) background)
    {
        var share = new ColourShare(color, (background.R, background.G, background.B));
        double inter = 0, union = 0;
        for (int i = 0; i < a.Width * a.Height; i++)
        {
            double ma = share.Of(a.Rgb.AsSpan(3 * i, 3)), mb = share.Of(b.Rgb.AsSpan(3 * i, 3));
            inter += Math.Min(ma, mb);
            union += Math.Max(ma, mb);
        }
        return union == 0 ? 1 : inter / union;
    }
}
