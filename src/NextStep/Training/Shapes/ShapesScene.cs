using System.Text.Json;
using System.Text.Json.Serialization;

namespace NextStep.Training.Shapes;

/// <summary>One claim of a caption: <see cref="Count"/> objects of a shape, of a colour when <see cref="Color"/> is set.</summary>
public sealed record ObjectClaim(ShapeKind Shape, ShapeColor? Color = null, int Count = 1);

/// <summary>
/// What a caption asserts, in structured form. <see cref="Relation"/> relates object claim 0 to claim 1
/// (pairwise) or places claim 0 in a corner; <see cref="Background"/> is null when the caption names none.
/// </summary>
public sealed record ShapesSpec(ShapesCategory Category, IReadOnlyList<ObjectClaim> Objects, ShapeRelation? Relation = null, ShapeColor? Background = null)
{
    public const int MaxObjects = 4;

    /// <summary>Checks that a spec can be drawn; <paramref name="source"/> names where it came from in the error.</summary>
    public void Validate(string source)
    {
        if (Objects is null || Objects.Count == 0) throw new NextStepException($"{source}: \"objects\" must list at least one object claim");
        int total = 0;
        foreach (var o in Objects)
        {
            if (o.Count is < 1 or > MaxObjects) throw new NextStepException($"{source}: object count {o.Count} is out of range (expected 1 to {MaxObjects})");
            if (o.Color == ShapeColor.Gray) throw new NextStepException($"{source}: gray is a background colour only; objects may be {string.Join(", ", ShapesVocabulary.ObjectColors.Select(ShapesVocabulary.Name))}");
            if (o.Color is { } c && c == Background) throw new NextStepException($"{source}: a {ShapesVocabulary.Name(c)} {ShapesVocabulary.Name(o.Shape)} cannot be seen on a {ShapesVocabulary.Name(c)} background");
            total += o.Count;
        }
        if (total > MaxObjects) throw new NextStepException($"{source}: {total} objects in total; at most {MaxObjects} fit in a scene");
        if (Background is { } b && !ShapesVocabulary.BackgroundColors.Contains(b))
            throw new NextStepException($"{source}: background \"{ShapesVocabulary.Name(b)}\" is not one of {string.Join(", ", ShapesVocabulary.BackgroundColors.Select(ShapesVocabulary.Name))}");
        if (Relation is { } r)
        {
            int needed = ShapesVocabulary.IsPairwise(r) ? 2 : 1;
            if (Objects.Count != needed || Objects.Any(o => o.Count != 1))
                throw new NextStepException($"{source}: relation \"{r}\" needs exactly {needed} single object claim(s), found {Objects.Count}");
        }
    }
}

/// <summary>A caption with its structured meaning: what the eval asks a model to draw.</summary>
public sealed record ShapesPrompt(string Caption, ShapesSpec Spec);

/// <summary>A drawn object. The bounding box is in image fractions (0..1), so a scene renders at any size.</summary>
public sealed record ShapeObject(ShapeKind Shape, ShapeColor Color, double X, double Y, double Width, double Height)
{
    [JsonIgnore] public double CenterX => X + Width / 2;
    [JsonIgnore] public double CenterY => Y + Height / 2;
}

/// <summary>A captioned scene with its full ground truth (every object, drawn colour and box, and the background).</summary>
public sealed record ShapesScene(string Caption, ShapesSpec Spec, ShapeColor Background, IReadOnlyList<ShapeObject> Objects)
{
    [JsonIgnore] public ShapesPrompt Prompt => new(Caption, Spec);
}

/// <summary>JSON form of Shapes records: snake_case names and enum values ("color_attr", "left_of").</summary>
public static class ShapesJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    public static readonly JsonSerializerOptions Indented = new(Options) { WriteIndented = true };

    /// <summary>Reads prompts from JSON lines (one object with "caption" and "spec" per line; other keys are ignored).</summary>
    public static IReadOnlyList<ShapesPrompt> ReadPrompts(string path)
    {
        if (!File.Exists(path)) throw new NextStepException($"{path}: prompts file not found");
        var prompts = new List<ShapesPrompt>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            ShapesPrompt? p;
            try { p = JsonSerializer.Deserialize<ShapesPrompt>(line, Options); }
            catch (JsonException e) { throw new NextStepException($"{path}:{lineNo}: expected a JSON object with \"caption\" and \"spec\" ({e.Message})"); }
            if (p is null || string.IsNullOrWhiteSpace(p.Caption) || p.Spec is null)
                throw new NextStepException($"{path}:{lineNo}: expected a JSON object with a non-empty \"caption\" and a \"spec\"");
            p.Spec.Validate($"{path}:{lineNo}");
            prompts.Add(p);
        }
        if (prompts.Count == 0) throw new NextStepException($"{path}: no prompts found (expected JSON lines with \"caption\" and \"spec\")");
        return prompts;
    }
}
