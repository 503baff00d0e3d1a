using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Training.Shapes;

/// <summary>Writes a natural English caption for a spec, choosing among several templates per category.</summary>
public static class ShapesCaptions
{
    private static readonly string[] Prefixes = ["", "", "", "a picture of ", "an image of ", "a drawing of ", "a simple drawing of "];
    private static readonly string[] BackgroundSuffixes = [" on a {0} background", " against a {0} background", ", {0} background", " with a {0} background"];
    private static readonly string[] SingleTemplates = ["{0}", "{0}", "a single {1}", "one {1}"];
    private static readonly string[] PairTemplates = ["{0} and {1}", "{0} and {1}", "{0} together with {1}", "{0} along with {1}", "both {0} and {1}"];
    private static readonly string[] CountTemplates = ["{0}", "{0}", "exactly {0}"];

    private static string[] Phrases(ShapeRelation r) => r switch
    {
        ShapeRelation.LeftOf => ["to the left of", "left of", "on the left of"],
        ShapeRelation.RightOf => ["to the right of", "right of", "on the right of"],
        ShapeRelation.Above => ["above", "above", "over"],
        ShapeRelation.Below => ["below", "under", "beneath"],
        ShapeRelation.TopLeft => ["in the top left corner", "in the upper left corner", "at the top left"],
        ShapeRelation.TopRight => ["in the top right corner", "in the upper right corner", "at the top right"],
        ShapeRelation.BottomLeft => ["in the bottom left corner", "in the lower left corner", "at the bottom left"],
        ShapeRelation.BottomRight => ["in the bottom right corner", "in the lower right corner", "at the bottom right"],
        _ => throw new ArgumentOutOfRangeException(nameof(r)),
    };

    public static string Write(Random rng, ShapesSpec spec)
    {
        var objs = spec.Objects;
        string core = spec.Relation is { } r
            ? ShapesVocabulary.IsPairwise(r)
                ? $"{WithArticle(objs[0])} {Pick(rng, Phrases(r))} {WithArticle(objs[1])}"
                : $"{WithArticle(objs[0])} {Pick(rng, Phrases(r))}"
            : spec.Category == ShapesCategory.Counting || objs.Count == 1 && objs[0].Count > 1
                ? string.Format(Pick(rng, CountTemplates), string.Join(" and ", objs.Select(Counted)))
                : objs.Count == 1
                    ? string.Format(Pick(rng, SingleTemplates), WithArticle(objs[0]), Bare(objs[0]))
                    : objs.Count == 2
                        ? string.Format(Pick(rng, PairTemplates), Phrase(objs[0]), Phrase(objs[1]))
                        : string.Join(", ", objs.SkipLast(1).Select(Phrase)) + " and " + Phrase(objs[^1]);
        string prefix = Pick(rng, Prefixes);
        string suffix = spec.Background is { } bg ? string.Format(Pick(rng, BackgroundSuffixes), Name(bg)) : "";
        return prefix + core + suffix;
    }

    private static string Bare(ObjectClaim o) => o.Color is { } c ? $"{Name(c)} {Name(o.Shape)}" : Name(o.Shape);
    private static string WithArticle(ObjectClaim o) { var bare = Bare(o); return $"{Article(bare)} {bare}"; }
    private static string Counted(ObjectClaim o) => o.Count == 1 ? $"one {Bare(o)}"
        : $"{NumberWord(o.Count)} {(o.Color is { } c ? Name(c) + " " : "")}{Plural(o.Shape)}";
    private static string Phrase(ObjectClaim o) => o.Count == 1 ? WithArticle(o) : Counted(o);
    private static string Pick(Random rng, string[] options) => options[rng.Next(options.Length)];
}
