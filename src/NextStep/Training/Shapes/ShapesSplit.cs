namespace NextStep.Training.Shapes;

/// <summary>Which part of the Shapes world a scene may come from.</summary>
public enum ShapesSplit
{
    /// <summary>Everything.</summary>
    All,
    /// <summary>No held-out (shape, colour) pair is drawn anywhere, and no held-out relation is claimed.</summary>
    Train,
    /// <summary>The caption claims at least one held-out (shape, colour) pair or held-out relation.</summary>
    HeldOut,
}

/// <summary>A spatial claim kept out of training. <see cref="B"/> is null for corners.</summary>
public sealed record HeldOutRelation(ShapeKind A, ShapeRelation Relation, ShapeKind? B);

/// <summary>
/// The fixed held-out combinations used to measure generalisation. Every shape and colour still appears in
/// training, only these bindings do not: the held-out pairs are never drawn in a training image, and the held-out
/// relations (in either direction, "A left of B" = "B right of A") are never stated in a training caption.
/// </summary>
public static class ShapesSplits
{
    public static readonly IReadOnlyList<(ShapeKind Shape, ShapeColor Color)> HeldOutPairs =
    [
        (ShapeKind.Circle, ShapeColor.Purple),
        (ShapeKind.Square, ShapeColor.Orange),
        (ShapeKind.Triangle, ShapeColor.Cyan),
        (ShapeKind.Star, ShapeColor.Green),
        (ShapeKind.Cross, ShapeColor.Red),
    ];

    public static readonly IReadOnlyList<HeldOutRelation> HeldOutRelations =
    [
        new(ShapeKind.Circle, ShapeRelation.LeftOf, ShapeKind.Triangle),
        new(ShapeKind.Square, ShapeRelation.Above, ShapeKind.Star),
        new(ShapeKind.Cross, ShapeRelation.Below, ShapeKind.Circle),
        new(ShapeKind.Star, ShapeRelation.TopRight, null),
        new(ShapeKind.Triangle, ShapeRelation.BottomLeft, null),
    ];

    /// <summary>Categories that can hold a scene of the split (only claimed colours and relations can be held out).</summary>
    public static IReadOnlyList<ShapesCategory> Categories(ShapesSplit split) => split == ShapesSplit.HeldOut
        ? [ShapesCategory.Counting, ShapesCategory.Colors, ShapesCategory.Position, ShapesCategory.ColorAttr]
        : ShapesVocabulary.Categories;

    public static bool IsHeldOut(ShapeKind shape, ShapeColor color) => HeldOutPairs.Contains((shape, color));

    /// <summary>True when the spec claims a held-out pair or a held-out relation.</summary>
    public static bool ClaimsHeldOut(ShapesSpec spec)
        => spec.Objects.Any(o => o.Color is { } c && IsHeldOut(o.Shape, c)) || ClaimsHeldOutRelation(spec);

    /// <summary>True when the scene draws a held-out pair anywhere or its caption claims a held-out relation.</summary>
    public static bool ShowsHeldOut(ShapesScene scene)
        => scene.Objects.Any(o => IsHeldOut(o.Shape, o.Color)) || ClaimsHeldOutRelation(scene.Spec);

    public static bool Accepts(ShapesSplit split, ShapesScene scene) => split switch
    {
        ShapesSplit.All => true,
        ShapesSplit.Train => !ShowsHeldOut(scene),
        ShapesSplit.HeldOut => ClaimsHeldOut(scene.Spec),
        _ => throw new ArgumentOutOfRangeException(nameof(split)),
    };

    /// <summary>Every held-out combination's name as reports show it: "green star" for a pair, "circle left_of triangle" or "star top_right" for a relation.</summary>
    public static readonly IReadOnlyList<string> CombinationNames =
        [.. HeldOutPairs.Select(p => Name(p.Shape, p.Color)), .. HeldOutRelations.Select(Name)];

    /// <summary>
    /// The names (<see cref="CombinationNames"/>) of the held-out combinations the spec claims; a relation counts
    /// whichever way round the caption states it.
    /// </summary>
    public static IReadOnlyList<string> ClaimedCombinations(ShapesSpec spec)
    {
        var names = spec.Objects.Where(o => o.Color is { } c && IsHeldOut(o.Shape, c))
            .Select(o => Name(o.Shape, o.Color!.Value)).Distinct().ToList();
        if (ClaimedRelation(spec) is { } h) names.Add(Name(h));
        return names;
    }

    private static string Name(ShapeKind shape, ShapeColor color) => $"{ShapesVocabulary.Name(color)} {ShapesVocabulary.Name(shape)}";

    private static string Name(HeldOutRelation h) =>
        $"{ShapesVocabulary.Name(h.A)} {ShapesVocabulary.Name(h.Relation)}" + (h.B is { } b ? $" {ShapesVocabulary.Name(b)}" : "");

    private static bool ClaimsHeldOutRelation(ShapesSpec spec) => ClaimedRelation(spec) is not null;

    private static HeldOutRelation? ClaimedRelation(ShapesSpec spec)
    {
        if (spec.Relation is not { } r) return null;
        var a = spec.Objects[0].Shape;
        if (!ShapesVocabulary.IsPairwise(r)) return HeldOutRelations.FirstOrDefault(h => h.B is null && h.A == a && h.Relation == r);
        var b = spec.Objects[1].Shape;
        return HeldOutRelations.FirstOrDefault(h => h.B is { } hb
            && ((h.A == a && h.Relation == r && hb == b) || (h.A == b && h.Relation == ShapesVocabulary.Converse(r) && hb == a)));
    }
}
