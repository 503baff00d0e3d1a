using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Training.Shapes;

/// <summary>
/// Draws random captioned scenes: first what the caption claims (a <see cref="ShapesSpec"/>), then its words,
/// then a layout that makes every claim clearly true. Only the seeded <see cref="Random"/> (its stable
/// seeded algorithm) and exact arithmetic are used, so a seed gives the same scene on every machine.
/// </summary>
public static class ShapesSampler
{
    private const double Margin = 0.04;   // free border, so the analyser can read the background from the edges
    private const double Gap = 0.06;      // minimum free space between two objects
    private const double BackgroundMentionRate = 0.35;
    private const int MaxTries = 10_000;

    /// <summary>The scene for one seed: a category of the split (uniformly chosen, or by <paramref name="mix"/>), then a scene of it.</summary>
    public static ShapesScene Sample(int seed, ShapesSplit split = ShapesSplit.All, ShapesMix? mix = null)
    {
        var rng = new Random(seed);
        var categories = ShapesSplits.Categories(split);
        return Sample(rng, mix is null ? categories[rng.Next(categories.Count)] : mix.Pick(rng, categories), split);
    }

    public static ShapesScene Sample(Random rng, ShapesCategory category, ShapesSplit split = ShapesSplit.All)
    {
        if (!ShapesSplits.Categories(split).Contains(category))
            throw new NextStepException($"category {category} has no scenes in the {split} split (only claimed colours and relations can be held out)");
        for (int i = 0; i < MaxTries; i++)
        {
            var spec = SampleSpec(rng, category);
            var scene = Realize(rng, new ShapesPrompt(ShapesCaptions.Write(rng, spec), spec));
            if (ShapesSplits.Accepts(split, scene)) return scene;
        }
        throw new InvalidOperationException($"no {category} scene of the {split} split found in {MaxTries} tries");
    }

    /// <summary>A random spec of a category: the claims a caption of that category makes.</summary>
    public static ShapesSpec SampleSpec(Random rng, ShapesCategory category)
    {
        ShapeColor? background = rng.NextDouble() < BackgroundMentionRate ? Pick(rng, BackgroundColors) : null;
        var bg = background ?? ShapeColor.Gray;
        ShapeColor? MaybeColor() => rng.Next(2) == 0 ? ObjectColor(rng, bg) : null;
        switch (category)
        {
            case ShapesCategory.SingleObject:
                return new(category, [new(Pick(rng, Kinds))], null, background);
            case ShapesCategory.Colors:
                return new(category, [new(Pick(rng, Kinds), ObjectColor(rng, bg))], null, background);
            case ShapesCategory.TwoObjects:
            {
                var (a, b) = TwoKinds(rng);
                return new(category, [new(a), new(b)], null, background);
            }
            case ShapesCategory.ColorAttr:
            {
                var (a, b) = TwoKinds(rng);
                var ca = ObjectColor(rng, bg);
                ShapeColor cb;
                do cb = ObjectColor(rng, bg); while (cb == ca);
                return new(category, [new(a, ca), new(b, cb)], null, background);
            }
            case ShapesCategory.Counting:
                return new(category, [new(Pick(rng, Kinds), MaybeColor(), 1 + rng.Next(ShapesSpec.MaxObjects))], null, background);
            case ShapesCategory.Position:
                if (rng.Next(3) == 0)
                    return new(category, [new(Pick(rng, Kinds), MaybeColor())], ShapeRelation.TopLeft + rng.Next(4), background);
                else
                {
                    var (a, b) = TwoKinds(rng);
                    return new(category, [new(a, MaybeColor()), new(b, MaybeColor())], ShapeRelation.LeftOf + rng.Next(4), background);
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(category));
        }
    }

    /// <summary>
    /// A layout that makes every claim of the prompt true: unclaimed colours are random, pairwise relations are
    /// unambiguous (the separation along the relation's axis dominates), corner objects sit well inside their quadrant.
    /// </summary>
    public static ShapesScene Realize(Random rng, ShapesPrompt prompt)
    {
        var spec = prompt.Spec;
        spec.Validate($"prompt \"{prompt.Caption}\"");
        var bg = spec.Background ?? ShapeColor.Gray;
        var kinds = new List<(ShapeKind Kind, ShapeColor Color)>();
        foreach (var o in spec.Objects)
            for (int i = 0; i < o.Count; i++) kinds.Add((o.Shape, o.Color ?? ObjectColor(rng, bg)));

        bool corner = spec.Relation is { } rel && !IsPairwise(rel);
        var (lo, hi) = kinds.Count switch { 1 when corner => (0.22, 0.30), 1 => (0.30, 0.45), 2 => (0.24, 0.34), _ => (0.20, 0.26) };
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            var sizes = kinds.Select(_ => lo + (hi - lo) * rng.NextDouble()).ToArray();
            var centers = Place(rng, sizes, spec.Relation);
            if (centers is null) continue;
            var objects = kinds.Select((k, i) => new ShapeObject(k.Kind, k.Color, centers[i].X - sizes[i] / 2, centers[i].Y - sizes[i] / 2, sizes[i], sizes[i])).ToArray();
            return new ShapesScene(prompt.Caption, spec, bg, objects);
        }
        throw new NextStepException($"prompt \"{prompt.Caption}\": found no layout that satisfies its spec");
    }

    private static (double X, double Y)[]? Place(Random rng, double[] sizes, ShapeRelation? relation)
    {
        var centers = new (double X, double Y)[sizes.Length];
        for (int i = 0; i < sizes.Length; i++)
        {
            bool placed = false;
            for (int t = 0; t < 200 && !placed; t++)
            {
                double lo = Margin + sizes[i] / 2, hi = 1 - Margin - sizes[i] / 2;
                var c = (X: lo + (hi - lo) * rng.NextDouble(), Y: lo + (hi - lo) * rng.NextDouble());
                placed = Enumerable.Range(0, i).All(j => Apart(c, sizes[i], centers[j], sizes[j]))
                         && (relation is not { } r || Satisfies(r, i, c, centers));
                if (placed) centers[i] = c;
            }
            if (!placed) return null;
        }
        return centers;
    }

    private static bool Apart((double X, double Y) a, double sa, (double X, double Y) b, double sb)
    {
        double need = (sa + sb) / 2 + Gap;
        return Math.Abs(a.X - b.X) >= need || Math.Abs(a.Y - b.Y) >= need;
    }

    /// <summary>Layout rule for object i: corners within 0.36 of their edges; pairs separated mostly along the axis.</summary>
    private static bool Satisfies(ShapeRelation r, int i, (double X, double Y) c, (double X, double Y)[] centers)
    {
        const double CornerLimit = 0.36;
        if (!IsPairwise(r))
        {
            if (i != 0) return true;
            bool left = r is ShapeRelation.TopLeft or ShapeRelation.BottomLeft, top = r is ShapeRelation.TopLeft or ShapeRelation.TopRight;
            return (left ? c.X : 1 - c.X) <= CornerLimit && (top ? c.Y : 1 - c.Y) <= CornerLimit;
        }
        if (i != 1) return true;
        var a = centers[0];
        // Displacement from A to B along the axis where the relation says B must lie.
        double along = r switch { ShapeRelation.LeftOf => c.X - a.X, ShapeRelation.RightOf => a.X - c.X, ShapeRelation.Above => c.Y - a.Y, _ => a.Y - c.Y };
        double across = r is ShapeRelation.LeftOf or ShapeRelation.RightOf ? Math.Abs(c.Y - a.Y) : Math.Abs(c.X - a.X);
        return along >= 0.25 && across <= 0.5 * along;
    }

    private static (ShapeKind, ShapeKind) TwoKinds(Random rng)
    {
        var a = Pick(rng, Kinds);
        ShapeKind b;
        do b = Pick(rng, Kinds); while (b == a);
        return (a, b);
    }

    private static ShapeColor ObjectColor(Random rng, ShapeColor background)
    {
        ShapeColor c;
        do c = Pick(rng, ObjectColors); while (c == background);
        return c;
    }

    private static T Pick<T>(Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];
}
