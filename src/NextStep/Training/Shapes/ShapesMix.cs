namespace NextStep.Training.Shapes;

/// <summary>
/// Relative weights of the scene categories a data set draws from (<c>two_objects=2,color_attr=2</c>; a category not
/// named keeps weight 1, weight 0 leaves it out). Without a mix every category of the split is equally likely.
/// </summary>
public sealed class ShapesMix
{
    private readonly Dictionary<ShapesCategory, double> _weights;

    private ShapesMix(Dictionary<ShapesCategory, double> weights) => _weights = weights;

    public double Weight(ShapesCategory category) => _weights.GetValueOrDefault(category, 1.0);

    /// <summary>Reads NAME=WEIGHT pairs separated by commas; errors name the pair and what was expected.</summary>
    public static ShapesMix Parse(string text, string what = "--category-mix")
    {
        var names = ShapesVocabulary.Categories.ToDictionary(ShapesVocabulary.Name);
        var weights = new Dictionary<ShapesCategory, double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2 || !names.TryGetValue(kv[0], out var category))
                throw new NextStepException($"{what} {text}: \"{part}\" is not CATEGORY=WEIGHT with a category of {string.Join(", ", names.Keys)}");
            if (!double.TryParse(kv[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var w) || !double.IsFinite(w) || w < 0)
                throw new NextStepException($"{what} {text}: weight \"{kv[1]}\" of {kv[0]} must be a number ≥ 0");
            if (!weights.TryAdd(category, w)) throw new NextStepException($"{what} {text}: {kv[0]} is given twice");
        }
        if (weights.Count == 0) throw new NextStepException($"{what} \"{text}\": expected CATEGORY=WEIGHT pairs, e.g. two_objects=2,color_attr=2");
        var mix = new ShapesMix(weights);
        if (ShapesVocabulary.Categories.All(c => mix.Weight(c) == 0)) throw new NextStepException($"{what} {text}: every category has weight 0");
        return mix;
    }

    /// <summary>A category of <paramref name="categories"/> drawn with these weights (one uniform draw of <paramref name="rng"/>).</summary>
    public ShapesCategory Pick(Random rng, IReadOnlyList<ShapesCategory> categories)
    {
        double total = categories.Sum(Weight);
        if (total <= 0) throw new NextStepException($"the category mix gives weight 0 to every category of this split ({string.Join(", ", categories)})");
        double u = rng.NextDouble() * total;
        foreach (var c in categories)
        {
            u -= Weight(c);
            if (u < 0) return c;
        }
        return categories.Last(c => Weight(c) > 0);
    }

    public override string ToString() => string.Join(",", ShapesVocabulary.Categories.Select(c => $"{ShapesVocabulary.Name(c)}={Weight(c).ToString(System.Globalization.CultureInfo.InvariantCulture)}"));
}
