using NextStep.Training.Shapes;
using Xunit;

namespace NextStep.Tests.Shapes;

public sealed class ShapesMixTests
{
    [Fact]
    public void CategoriesAreDrawnInProportionToTheirWeights()
    {
        // color_attr 3, single_object 0, the other four 1: expected shares 3/7 and 0, 1/7 each for the rest.
        var mix = ShapesMix.Parse("color_attr=3, single_object=0");
        var scenes = Enumerable.Range(0, 7000).Select(i => ShapesDataset.Scene(5, i, ShapesSplit.Train, mix)).ToList();
        double Share(ShapesCategory c) => scenes.Count(s => s.Spec.Category == c) / (double)scenes.Count;
        Assert.Equal(0.0, Share(ShapesCategory.SingleObject));
        Assert.InRange(Share(ShapesCategory.ColorAttr), 3 / 7.0 - 0.02, 3 / 7.0 + 0.02);
        foreach (var c in new[] { ShapesCategory.TwoObjects, ShapesCategory.Counting, ShapesCategory.Colors, ShapesCategory.Position })
            Assert.InRange(Share(c), 1 / 7.0 - 0.015, 1 / 7.0 + 0.015);
        Assert.DoesNotContain(scenes, ShapesSplits.ShowsHeldOut);
    }

    [Fact]
    public void WithoutAMixTheScenesStayTheSame()
    {
        // Caches encoded before the mix existed hold these scenes; a null mix must not change them.
        var plain = ShapesDataset.Scenes(1, 40).Select(s => s.Caption);
        Assert.Equal(plain, Enumerable.Range(0, 40).Select(i => ShapesDataset.Scene(1, i, ShapesSplit.Train, null).Caption));
        Assert.Equal(6, ShapesDataset.Scenes(1, 400).Select(s => s.Spec.Category).Distinct().Count());
    }

    [Theory]
    [InlineData("two_objects", "is not CATEGORY=WEIGHT")]
    [InlineData("triangles=2", "\"triangles=2\" is not CATEGORY=WEIGHT")]
    [InlineData("counting=-1", "weight \"-1\" of counting must be a number ≥ 0")]
    [InlineData("counting=lots", "weight \"lots\" of counting")]
    [InlineData("counting=1,counting=2", "counting is given twice")]
    [InlineData("single_object=0,two_objects=0,counting=0,colors=0,position=0,color_attr=0", "every category has weight 0")]
    [InlineData(" , ", "expected CATEGORY=WEIGHT pairs")]
    public void BadMixesAreNamed(string text, string expected)
    {
        var e = Assert.Throws<NextStepException>(() => ShapesMix.Parse(text));
        Assert.Contains("--category-mix", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AMixThatLeavesNoCategoryOfTheSplitIsNamed()
    {
        // The held-out split has only counting, colors, position and color_attr.
        var mix = ShapesMix.Parse("counting=0,colors=0,position=0,color_attr=0");
        var e = Assert.Throws<NextStepException>(() => ShapesDataset.Scene(1, 0, ShapesSplit.HeldOut, mix));
        Assert.Contains("weight 0 to every category", e.Message);
    }
}
