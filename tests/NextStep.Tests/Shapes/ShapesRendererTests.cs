using System.Security.Cryptography;
using NextStep.Imaging;
using NextStep.Training.Shapes;
using Xunit;
using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Tests.Shapes;

public class ShapesRendererTests
{
    private static ShapesScene[] Many(int count, ShapesSplit split = ShapesSplit.All)
        => Enumerable.Range(0, count).Select(i => ShapesSampler.Sample(i, split)).ToArray();

    [Fact]
    public void PaletteColoursAreWellSeparated()
    {
        var all = Enum.GetValues<ShapeColor>();
        Assert.True(ObjectColors.Length >= 8);
        foreach (var a in all)
            foreach (var b in all.Where(b => b > a))
            {
                var (p, q) = (Rgb(a), Rgb(b));
                double d = Math.Sqrt(Math.Pow(p.R - q.R, 2) + Math.Pow(p.G - q.G, 2) + Math.Pow(p.B - q.B, 2));
                Assert.True(d >= 100, $"{a} and {b} are only {d:F0} apart");
            }
    }

    [Theory]
    [InlineData(ShapeKind.Circle, Math.PI / 4)]
    [InlineData(ShapeKind.Square, 1.0)]
    [InlineData(ShapeKind.Triangle, 0.5)]
    [InlineData(ShapeKind.Cross, 5.0 / 9.0)]
    // Star: 10-gon with outer radius 1 and inner 0.42 has area 5·0.42·sin 36° = 1.2343; its box is 2 sin 72° × (1 + cos 36°).
    [InlineData(ShapeKind.Star, 1.23434 / (1.90211 * 1.80902))]
    public void ShapesCoverTheirAnalyticArea(ShapeKind kind, double area)
    {
        var cover = ShapeGeometry.Coverage(kind, 0, 0, 1, 1, 0, 0, 1, 1, 400);
        Assert.Equal(area, cover[0], 2);
    }

    [Fact]
    public void SameSeedGivesTheSameSceneAndPixels()
    {
        var a = ShapesSampler.Sample(12345);
        var b = ShapesSampler.Sample(12345);
        Assert.Equal(a.Caption, b.Caption);
        Assert.Equal(a.Objects, b.Objects);
        Assert.Equal(ShapesRenderer.Render(a).Rgb, ShapesRenderer.Render(b).Rgb);
        Assert.NotEqual(a.Caption + a.Objects[0], ShapesSampler.Sample(12346).Caption + ShapesSampler.Sample(12346).Objects[0]);
    }

    /// <summary>
    /// Pins the scenes of the first seeds: the seeded System.Random algorithm and the exact-arithmetic rasteriser
    /// must give these on every machine and .NET version (a change here silently changes every data set).
    /// </summary>
    [Fact]
    public void ScenesAreStableAcrossMachines()
    {
        string[] captions = [.. Enumerable.Range(0, 4).Select(i => ShapesSampler.Sample(i).Caption)];
        Assert.Equal(PinnedCaptions, captions);
        var hash = Convert.ToHexString(SHA256.HashData(Enumerable.Range(0, 4).SelectMany(i => ShapesRenderer.Render(ShapesSampler.Sample(i)).Rgb).ToArray()));
        Assert.Equal(PinnedPixelHash, hash);
    }

    private static readonly string[] PinnedCaptions =
    [
        "a triangle on the right of a square",
        "a simple drawing of a star and a triangle on a white background",
        "a blue cross in the lower right corner",
        "a cross together with a circle",
    ];
    private const string PinnedPixelHash = "DB589DFB1287CA3344A3781D41682F6BB459A6C20686CF40CCC2826DCDE1806D";

    [Fact]
    public void EveryCaptionIsTrueOfItsOwnScene()
    {
        foreach (var s in Many(2000))
            Assert.True(ShapesJudge.Judge(s.Spec, s).Correct, s.Caption);
    }

    [Fact]
    public void ObjectsAreInsideTheImageApartAndLargeEnough()
    {
        foreach (var s in Many(1000))
        {
            foreach (var o in s.Objects)
            {
                Assert.InRange(o.X, 0.04 - 1e-9, 1);
                Assert.InRange(o.X + o.Width, 0, 0.96 + 1e-9);
                Assert.InRange(o.Width, 0.2, 0.45);
                Assert.NotEqual(s.Background, o.Color);
            }
            for (int i = 0; i < s.Objects.Count; i++)
                for (int j = i + 1; j < s.Objects.Count; j++)
                {
                    var (a, b) = (s.Objects[i], s.Objects[j]);
                    bool apart = a.X + a.Width + 0.06 <= b.X + 1e-9 || b.X + b.Width + 0.06 <= a.X + 1e-9
                              || a.Y + a.Height + 0.06 <= b.Y + 1e-9 || b.Y + b.Height + 0.06 <= a.Y + 1e-9;
                    Assert.True(apart, $"{s.Caption}: objects {i} and {j} are too close");
                }
        }
    }

    [Fact]
    public void RenderedPixelsHaveThePaletteColours()
    {
        foreach (var s in Many(50))
        {
            var img = ShapesRenderer.Render(s, 96, 96);
            Assert.Equal(Rgb(s.Background), Pixel(img, 0, 0));
            Assert.Equal(Rgb(s.Background), Pixel(img, 95, 95));
            foreach (var o in s.Objects)   // every kind covers its box centre
                Assert.Equal(Rgb(o.Color), Pixel(img, (int)(o.CenterX * 96), (int)(o.CenterY * 96)));
        }
    }

    private static (byte, byte, byte) Pixel(RgbImage img, int x, int y)
    {
        int i = (y * img.Width + x) * 3;
        return (img.Rgb[i], img.Rgb[i + 1], img.Rgb[i + 2]);
    }

    [Fact]
    public void CaptionsNameEveryClaim()
    {
        foreach (var s in Many(1000))
        {
            foreach (var o in s.Spec.Objects)
            {
                Assert.Contains(o.Count == 1 ? Name(o.Shape) : Plural(o.Shape), s.Caption);
                if (o.Color is { } c) Assert.Contains($"{Name(c)} ", s.Caption);
                if (o.Count > 1) Assert.Contains(NumberWord(o.Count), s.Caption);
            }
            if (s.Spec.Background is { } bg) Assert.Contains($"{Name(bg)} background", s.Caption);
            else Assert.DoesNotContain("background", s.Caption);
        }
    }

    [Fact]
    public void CategoriesMakeTheirKindOfClaims()
    {
        var scenes = Many(3000);
        foreach (var category in Categories)
            Assert.True(scenes.Count(s => s.Spec.Category == category) > 300, $"{category} is rare");
        Assert.All(scenes.Where(s => s.Spec.Category == ShapesCategory.Colors), s => Assert.NotNull(s.Spec.Objects[0].Color));
        Assert.All(scenes.Where(s => s.Spec.Category == ShapesCategory.SingleObject), s => Assert.Null(s.Spec.Objects[0].Color));
        Assert.All(scenes.Where(s => s.Spec.Category == ShapesCategory.ColorAttr), s => Assert.NotEqual(s.Spec.Objects[0].Color, s.Spec.Objects[1].Color));
        Assert.All(scenes.Where(s => s.Spec.Category == ShapesCategory.Position), s => Assert.NotNull(s.Spec.Relation));
        var counts = scenes.Where(s => s.Spec.Category == ShapesCategory.Counting).Select(s => s.Objects.Count).Distinct().Order();
        Assert.Equal([1, 2, 3, 4], counts);
        Assert.Equal(Enum.GetValues<ShapeRelation>().Length, scenes.Where(s => s.Spec.Relation is not null).Select(s => s.Spec.Relation).Distinct().Count());
        Assert.True(scenes.Select(s => s.Caption).Distinct().Count() > 2000, "captions should vary");
    }

    [Fact]
    public void TrainingSplitNeverShowsAHeldOutCombination()
    {
        var train = Many(2000, ShapesSplit.Train);
        Assert.DoesNotContain(train, ShapesSplits.ShowsHeldOut);
        Assert.All(Kinds, k => Assert.Contains(train, s => s.Objects.Any(o => o.Shape == k)));
        Assert.All(ObjectColors, c => Assert.Contains(train, s => s.Objects.Any(o => o.Color == c)));
        // The converse wording of a held-out relation is held out too: "a triangle right of a circle".
        var converse = new ShapesSpec(ShapesCategory.Position, [new(ShapeKind.Triangle), new(ShapeKind.Circle)], ShapeRelation.RightOf);
        Assert.True(ShapesSplits.ClaimsHeldOut(converse));
        var mirrored = new ShapesSpec(ShapesCategory.Position, [new(ShapeKind.Triangle), new(ShapeKind.Circle)], ShapeRelation.LeftOf);
        Assert.False(ShapesSplits.ClaimsHeldOut(mirrored));
    }

    [Fact]
    public void HeldOutSplitClaimsAHeldOutCombination()
    {
        var held = Enumerable.Range(0, 300).Select(i => ShapesSampler.Sample(i, ShapesSplit.HeldOut)).ToArray();
        Assert.All(held, s => Assert.True(ShapesSplits.ClaimsHeldOut(s.Spec), s.Caption));
        Assert.All(ShapesSplits.HeldOutPairs, p => Assert.Contains(held, s => s.Spec.Objects.Any(o => o.Shape == p.Shape && o.Color == p.Color)));
        Assert.Throws<NextStepException>(() => ShapesSampler.Sample(new Random(1), ShapesCategory.SingleObject, ShapesSplit.HeldOut));
    }

    [Fact]
    public void ClaimedCombinationsAreNamedAsHeldOut()
    {
        Assert.Equal(["purple circle", "orange square", "cyan triangle", "green star", "red cross",
            "circle left_of triangle", "square above star", "cross below circle", "star top_right", "triangle bottom_left"],
            ShapesSplits.CombinationNames);
        ShapesSpec Spec(ShapesCategory c, ShapeRelation? r, IReadOnlyList<ObjectClaim> objects) => new(c, objects, r);
        // a relation counts said either way round, and is named the way the split states it
        Assert.Equal(["circle left_of triangle"], ShapesSplits.ClaimedCombinations(
            Spec(ShapesCategory.Position, ShapeRelation.RightOf, [new(ShapeKind.Triangle), new(ShapeKind.Circle)])));
        Assert.Equal(["green star", "star top_right"], ShapesSplits.ClaimedCombinations(
            Spec(ShapesCategory.Position, ShapeRelation.TopRight, [new(ShapeKind.Star, ShapeColor.Green)])));
        Assert.Equal(["purple circle", "red cross"], ShapesSplits.ClaimedCombinations(
            Spec(ShapesCategory.ColorAttr, null, [new(ShapeKind.Circle, ShapeColor.Purple), new(ShapeKind.Cross, ShapeColor.Red)])));
        Assert.Equal(["orange square"], ShapesSplits.ClaimedCombinations(
            Spec(ShapesCategory.Counting, null, [new(ShapeKind.Square, ShapeColor.Orange, 3)])));
        Assert.Empty(ShapesSplits.ClaimedCombinations(
            Spec(ShapesCategory.Position, ShapeRelation.LeftOf, [new(ShapeKind.Triangle, ShapeColor.Purple), new(ShapeKind.Circle, ShapeColor.Green)])));
    }

    [Fact]
    public void InvalidSpecsAreRejectedWithTheirSource()
    {
        var tooMany = new ShapesSpec(ShapesCategory.Counting, [new(ShapeKind.Circle, null, 3), new(ShapeKind.Star, null, 2)]);
        var e = Assert.Throws<NextStepException>(() => ShapesSampler.Realize(new Random(0), new("five shapes", tooMany)));
        Assert.Contains("five shapes", e.Message);
        var invisible = new ShapesSpec(ShapesCategory.Colors, [new(ShapeKind.Circle, ShapeColor.White)], null, ShapeColor.White);
        Assert.Contains("white background", Assert.Throws<NextStepException>(() => invisible.Validate("x")).Message);
        var lonely = new ShapesSpec(ShapesCategory.Position, [new(ShapeKind.Circle)], ShapeRelation.LeftOf);
        Assert.Contains("LeftOf", Assert.Throws<NextStepException>(() => lonely.Validate("x")).Message);
    }
}
