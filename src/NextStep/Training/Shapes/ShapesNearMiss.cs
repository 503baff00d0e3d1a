using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Training.Shapes;

/// <summary>
/// Near misses for a judge of captions: a scene's spec changed in one claim (a colour, a shape, a count, two colours
/// swapped, the relation or its order, the background), realised as a scene of its own. Every spec and scene stays in
/// the train split, so a judge trained on them never sees a held-out combination.
/// </summary>
public static class ShapesNearMiss
{
    /// <summary>The spec changed in one randomly chosen claim; null when that change does not apply to it.</summary>
    public static ShapesSpec? Change(Random rng, ShapesSpec spec)
    {
        var objects = spec.Objects.ToList();
        var bg = spec.Background ?? ShapeColor.Gray;
        int i = rng.Next(objects.Count);
        switch (rng.Next(7))
        {
            case 0: // the colour of one claim (an uncoloured claim gets a colour half the time)
                if (objects[i].Color is null && rng.Next(2) == 0) return null;
                objects[i] = objects[i] with { Color = OtherColor(rng, objects[i].Color, bg) };
                break;
            case 1: // the shape of one claim
            {
                ShapeKind kind;
                do kind = Kinds[rng.Next(Kinds.Length)]; while (kind == objects[i].Shape);
                if (objects.Count == 2 && objects[1 - i].Shape == kind) return null;
                objects[i] = objects[i] with { Shape = kind };
                break;
            }
            case 2: // the count
            {
                if (spec.Category != ShapesCategory.Counting) return null;
                int n = objects[0].Count + (rng.Next(2) == 0 ? -1 : 1);
                if (n < 1 || n > ShapesSpec.MaxObjects) n = objects[0].Count + (n < 1 ? 1 : -1);
                objects[0] = objects[0] with { Count = n };
                break;
            }
            case 3: // two colours swapped (attribute binding)
                if (objects.Count != 2 || objects[0].Color == objects[1].Color) return null;
                (objects[0], objects[1]) = (objects[0] with { Color = objects[1].Color }, objects[1] with { Color = objects[0].Color });
                break;
            case 4: // the relation: its converse or another one of its kind
            {
                if (spec.Relation is not { } r) return null;
                var changed = IsPairwise(r) ? (rng.Next(2) == 0 ? Converse(r) : (ShapeRelation)rng.Next(4)) : ShapeRelation.TopLeft + rng.Next(4);
                return changed == r ? null : spec with { Relation = changed };
            }
            case 5: // the two objects of a pairwise relation swapped
                return spec.Relation is { } pr && IsPairwise(pr) ? spec with { Objects = [objects[1], objects[0]] } : null;
            default: // the background
            {
                var other = BackgroundColors[rng.Next(BackgroundColors.Length)];
                return other == bg || objects.Any(o => o.Color == other) ? null : spec with { Background = other };
            }
        }
        return spec with { Objects = objects };
    }

    /// <summary>A train-split scene and a near miss of it (the same scene twice in the rare case that no change fits).</summary>
    public static (ShapesScene Scene, ShapesScene NearMiss) Pair(Random rng)
    {
        var scene = ShapesSampler.Sample(rng.Next(), ShapesSplit.Train);
        for (int t = 0; t < 200; t++)
        {
            if (Change(rng, scene.Spec) is not { } spec || !Drawable(spec)) continue;
            var caption = ShapesCaptions.Write(rng, spec);
            for (int u = 0; u < 20; u++)
            {
                var other = ShapesSampler.Realize(rng, new ShapesPrompt(caption, spec));
                if (ShapesSplits.Accepts(ShapesSplit.Train, other)) return (scene, other);
            }
        }
        return (scene, scene);
    }

    /// <summary>True when the spec is valid and claims no held-out combination.</summary>
    public static bool Drawable(ShapesSpec spec)
    {
        try { spec.Validate("near miss"); }
        catch (NextStepException) { return false; }
        return !ShapesSplits.ClaimsHeldOut(spec);
    }

    private static ShapeColor OtherColor(Random rng, ShapeColor? old, ShapeColor background)
    {
        ShapeColor c;
        do c = ObjectColors[rng.Next(ObjectColors.Length)]; while (c == old || c == background);
        return c;
    }
}
