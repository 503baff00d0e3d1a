using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Training.Shapes;

/// <summary>Whether a set of objects satisfies a spec, and why not.</summary>
public sealed record ShapesVerdict(bool Correct, string Reason);

/// <summary>
/// Decides whether objects on a background satisfy every claim of a spec, GenEval style. The same rules judge
/// ground truth and what <see cref="ShapesAnalyser"/> finds in pixels:
/// counting needs the exact number of matching objects; other claims need at least that many;
/// "A left of B" needs some matching A and B whose centres are at least <see cref="MinSeparation"/> apart
/// along x, more than they are apart along y (likewise for above/below); a corner needs the centre inside that
/// quadrant, <see cref="CornerMargin"/> away from the midlines; a named background must match.
/// </summary>
public static class ShapesJudge
{
    public const double MinSeparation = 0.1;
    public const double CornerMargin = 0.05;

    public static ShapesVerdict Judge(ShapesSpec spec, ShapesScene scene) => Judge(spec, scene.Background, scene.Objects);

    public static ShapesVerdict Judge(ShapesSpec spec, ShapeColor background, IReadOnlyList<ShapeObject> objects)
    {
        if (spec.Background is { } bg && bg != background)
            return new(false, $"background is {Name(background)}, expected {Name(bg)}");
        var matches = spec.Objects.Select(c => objects.Where(o => Matches(c, o)).ToArray()).ToArray();
        for (int i = 0; i < spec.Objects.Count; i++)
        {
            var claim = spec.Objects[i];
            int n = matches[i].Length;
            bool ok = spec.Category == ShapesCategory.Counting ? n == claim.Count : n >= claim.Count;
            if (!ok) return new(false, $"found {n} {Describe(claim)}, expected {(spec.Category == ShapesCategory.Counting ? "exactly" : "at least")} {claim.Count}");
        }
        if (spec.Relation is { } r)
        {
            bool ok = IsPairwise(r)
                ? matches[0].Any(a => matches[1].Any(b => a != b && Holds(r, a, b)))
                : matches[0].Any(a => InCorner(r, a));
            if (!ok) return new(false, $"relation {r} does not hold");
        }
        return new(true, "ok");
    }

    public static bool Matches(ObjectClaim claim, ShapeObject o) => o.Shape == claim.Shape && (claim.Color is not { } c || o.Color == c);

    /// <summary>Whether "a {r} b" holds between two object centres.</summary>
    public static bool Holds(ShapeRelation r, ShapeObject a, ShapeObject b)
    {
        double dx = b.CenterX - a.CenterX, dy = b.CenterY - a.CenterY;
        var (along, across) = r switch
        {
            ShapeRelation.LeftOf => (dx, dy),
            ShapeRelation.RightOf => (-dx, dy),
            ShapeRelation.Above => (dy, dx),
            ShapeRelation.Below => (-dy, dx),
            _ => throw new ArgumentOutOfRangeException(nameof(r), r, "not a pairwise relation"),
        };
        return along >= MinSeparation && along > Math.Abs(across);
    }

    public static bool InCorner(ShapeRelation r, ShapeObject a)
    {
        bool left = r is ShapeRelation.TopLeft or ShapeRelation.BottomLeft, top = r is ShapeRelation.TopLeft or ShapeRelation.TopRight;
        double fromLeftOrRight = left ? a.CenterX : 1 - a.CenterX, fromTopOrBottom = top ? a.CenterY : 1 - a.CenterY;
        return fromLeftOrRight < 0.5 - CornerMargin && fromTopOrBottom < 0.5 - CornerMargin;
    }

    private static string Describe(ObjectClaim c) => c.Color is { } col ? $"{Name(col)} {Plural(c.Shape)}" : Plural(c.Shape);
}
