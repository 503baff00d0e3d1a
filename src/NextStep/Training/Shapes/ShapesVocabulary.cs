namespace NextStep.Training.Shapes;

/// <summary>The shape kinds drawn by <see cref="ShapesRenderer"/>; all are axis-aligned and fill their bounding box.</summary>
public enum ShapeKind { Circle, Square, Triangle, Star, Cross }

/// <summary>Colours of the Shapes world. <see cref="Gray"/> is used only as a background.</summary>
public enum ShapeColor { Red, Green, Blue, Yellow, Purple, Orange, Cyan, White, Black, Gray }

/// <summary>GenEval-style task categories.</summary>
public enum ShapesCategory { SingleObject, TwoObjects, Counting, Colors, Position, ColorAttr }

/// <summary>
/// A spatial claim. The first four relate object 0 to object 1 ("A left of B");
/// the corners place object 0 in a quadrant of the image.
/// </summary>
public enum ShapeRelation { LeftOf, RightOf, Above, Below, TopLeft, TopRight, BottomLeft, BottomRight }

/// <summary>Names, plurals and RGB values of the Shapes vocabulary.</summary>
public static class ShapesVocabulary
{
    public static readonly ShapeKind[] Kinds = Enum.GetValues<ShapeKind>();
    public static readonly ShapesCategory[] Categories = Enum.GetValues<ShapesCategory>();

    /// <summary>Colours an object may have: every colour except gray. Minimum pairwise RGB distance is about 100.</summary>
    public static readonly ShapeColor[] ObjectColors = Enum.GetValues<ShapeColor>().Where(c => c != ShapeColor.Gray).ToArray();

    /// <summary>Background colours. Gray is the background whenever a caption does not name one.</summary>
    public static readonly ShapeColor[] BackgroundColors = [ShapeColor.Gray, ShapeColor.White, ShapeColor.Black];

    public static (byte R, byte G, byte B) Rgb(ShapeColor c) => c switch
    {
        ShapeColor.Red => (215, 25, 40),
        ShapeColor.Green => (35, 170, 50),
        ShapeColor.Blue => (35, 70, 225),
        ShapeColor.Yellow => (240, 235, 40),
        ShapeColor.Purple => (145, 50, 190),
        ShapeColor.Orange => (250, 130, 10),
        ShapeColor.Cyan => (40, 215, 225),
        ShapeColor.White => (250, 250, 250),
        ShapeColor.Black => (15, 15, 15),
        ShapeColor.Gray => (128, 128, 128),
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    public static string Name(ShapeColor c) => c.ToString().ToLowerInvariant();
    public static string Name(ShapeKind k) => k.ToString().ToLowerInvariant();
    /// <summary>A category as reports, JSON and <c>--category-mix</c> write it (<c>single_object</c>, <c>color_attr</c>).</summary>
    public static string Name(ShapesCategory c) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(c.ToString());
    /// <summary>A relation as reports write it (<c>left_of</c>, <c>top_right</c>).</summary>
    public static string Name(ShapeRelation r) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(r.ToString());
    public static string Plural(ShapeKind k) => k == ShapeKind.Cross ? "crosses" : Name(k) + "s";

    public static string NumberWord(int n) => n switch
    {
        1 => "one", 2 => "two", 3 => "three", 4 => "four",
        _ => throw new ArgumentOutOfRangeException(nameof(n), n, "counts are 1 to 4"),
    };

    /// <summary>The indefinite article for a word ("an orange circle", "a red circle").</summary>
    public static string Article(string word) => "aeiou".Contains(word[0]) ? "an" : "a";

    /// <summary>True for relations between two objects; false for corners.</summary>
    public static bool IsPairwise(ShapeRelation r) => r <= ShapeRelation.Below;

    /// <summary>The same layout said the other way round: "A left of B" is "B right of A".</summary>
    public static ShapeRelation Converse(ShapeRelation r) => r switch
    {
        ShapeRelation.LeftOf => ShapeRelation.RightOf,
        ShapeRelation.RightOf => ShapeRelation.LeftOf,
        ShapeRelation.Above => ShapeRelation.Below,
        ShapeRelation.Below => ShapeRelation.Above,
        _ => r,
    };
}
