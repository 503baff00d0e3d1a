using System.Text.RegularExpressions;
using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Training.Shapes;

/// <summary>
/// Reads what a Shapes caption claims back into a <see cref="ShapesSpec"/>: every wording <see cref="ShapesCaptions"/>
/// writes, and the plain variants a person would type ("grey", digits, "a photo of", a final full stop). Number words
/// ("one", "a single", "two", "exactly") make every count exact (the counting category); "a"/"an" mean at least one.
/// Returns null for anything outside the Shapes world, so callers can fall back to judging without it.
/// </summary>
public static partial class ShapesCaptionParser
{
    private static readonly (string Phrase, ShapeRelation Relation)[] Pairwise =
    [
        ("to the left of", ShapeRelation.LeftOf), ("on the left of", ShapeRelation.LeftOf), ("left of", ShapeRelation.LeftOf),
        ("to the right of", ShapeRelation.RightOf), ("on the right of", ShapeRelation.RightOf), ("right of", ShapeRelation.RightOf),
        ("above", ShapeRelation.Above), ("over", ShapeRelation.Above),
        ("below", ShapeRelation.Below), ("under", ShapeRelation.Below), ("beneath", ShapeRelation.Below),
    ];

    [GeneratedRegex(@"^(?:an? )?(?:simple )?(?:picture|image|drawing|photo|rendering|render) of ")]
    private static partial Regex Prefix();

    [GeneratedRegex(@"(?:,| on| against| with)(?: an?)? (\w+) background$")]
    private static partial Regex Background();

    [GeneratedRegex(@" (?:in the (top|upper|bottom|lower) (left|right) corner|at the (top|bottom) (left|right))$")]
    private static partial Regex Corner();

    public static ShapesSpec? Parse(string caption)
    {
        string s = Regex.Replace(caption.Trim().ToLowerInvariant(), @"\s+", " ").TrimEnd('.', '!').Trim();
        s = s.Replace("grey", "gray");
        s = Prefix().Replace(s, "");
        ShapeColor? background = null;
        if (Background().Match(s) is { Success: true } bg)
        {
            if (Color(bg.Groups[1].Value) is not { } c || !BackgroundColors.Contains(c)) return null;
            background = c;
            s = s[..bg.Index];
        }
        ShapesSpec spec;
        if (Corner().Match(s) is { Success: true } corner)
        {
            string vertical = corner.Groups[1].Success ? corner.Groups[1].Value : corner.Groups[3].Value;
            string horizontal = corner.Groups[2].Success ? corner.Groups[2].Value : corner.Groups[4].Value;
            bool top = vertical is "top" or "upper", left = horizontal == "left";
            var relation = top ? left ? ShapeRelation.TopLeft : ShapeRelation.TopRight : left ? ShapeRelation.BottomLeft : ShapeRelation.BottomRight;
            if (Claim(s[..corner.Index]) is not { } only) return null;
            spec = new(ShapesCategory.Position, [only.Claim], relation, background);
        }
        else if (Pairwise.Select(p => (p.Relation, At: s.IndexOf($" {p.Phrase} ", StringComparison.Ordinal), p.Phrase)).FirstOrDefault(p => p.At > 0) is { At: > 0 } pair)
        {
            if (Claim(s[..pair.At]) is not { } a || Claim(s[(pair.At + pair.Phrase.Length + 2)..]) is not { } b) return null;
            spec = new(ShapesCategory.Position, [a.Claim, b.Claim], pair.Relation, background);
        }
        else
        {
            if (s.StartsWith("both ", StringComparison.Ordinal)) s = s[5..];
            bool exactly = s.StartsWith("exactly ", StringComparison.Ordinal);
            if (exactly) s = s[8..];
            var parts = Regex.Split(s, " together with | along with | and |, ");
            var claims = parts.Select(Claim).ToArray();
            if (claims.Length == 0 || claims.Any(c => c is null)) return null;
            var objects = claims.Select(c => c!.Value.Claim).ToArray();
            var category = exactly || claims.Any(c => c!.Value.Exact) ? ShapesCategory.Counting
                : objects.Length == 1 ? objects[0].Color is null ? ShapesCategory.SingleObject : ShapesCategory.Colors
                : objects.Length == 2 && objects.All(o => o.Color is not null) ? ShapesCategory.ColorAttr : ShapesCategory.TwoObjects;
            spec = new(category, objects, null, background);
        }
        try { spec.Validate("caption"); }
        catch (NextStepException) { return null; }
        return spec;
    }

    /// <summary>"a red circle", "one circle", "a single red circle", "three blue stars", "2 squares"; Exact when a number was given.</summary>
    private static (ObjectClaim Claim, bool Exact)? Claim(string phrase)
    {
        var words = phrase.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (words.Count == 0) return null;
        int count = 1;
        bool exact = false;
        if (words.Count > 1 && words[0] is "a" or "an" && words[1] == "single") { exact = true; words.RemoveRange(0, 2); }
        else if (words[0] is "a" or "an") words.RemoveAt(0);
        else if (words[0] == "single") { exact = true; words.RemoveAt(0); }
        else if (Number(words[0]) is { } n) { count = n; exact = true; words.RemoveAt(0); }
        ShapeColor? color = null;
        if (words.Count == 2)
        {
            if (Color(words[0]) is not { } c || c == ShapeColor.Gray) return null;
            color = c;
            words.RemoveAt(0);
        }
        if (words.Count != 1 || Shape(words[0]) is not { } shape) return null;
        return (new ObjectClaim(shape, color, count), exact);
    }

    private static int? Number(string word) => word switch
    {
        "one" or "1" => 1, "two" or "2" => 2, "three" or "3" => 3, "four" or "4" => 4,
        _ => null,
    };

    private static ShapeColor? Color(string word) => Enum.GetValues<ShapeColor>().Cast<ShapeColor?>().FirstOrDefault(c => Name(c!.Value) == word);

    private static ShapeKind? Shape(string word) => Kinds.Cast<ShapeKind?>().FirstOrDefault(k => Name(k!.Value) == word || Plural(k!.Value) == word);
}
