using NextStep.Training.Shapes;
using Xunit;

namespace NextStep.Tests.Shapes;

public class ShapesJudgeTests
{
    private static ShapeObject At(ShapeKind k, ShapeColor c, double cx, double cy) => new(k, c, cx - 0.1, cy - 0.1, 0.2, 0.2);

    private static bool Judge(ShapesSpec spec, params ShapeObject[] objects) => ShapesJudge.Judge(spec, ShapeColor.Gray, objects).Correct;

    [Theory]
    [InlineData(0.30, 0.5, 0.70, 0.5, true)]    // plainly left of
    [InlineData(0.30, 0.3, 0.70, 0.6, true)]    // diagonal, mostly horizontal
    [InlineData(0.30, 0.1, 0.60, 0.5, false)]   // mostly vertical: that is "above"
    [InlineData(0.45, 0.5, 0.52, 0.5, false)]   // closer than 0.1
    [InlineData(0.70, 0.5, 0.30, 0.5, false)]   // the other way round
    public void LeftOfNeedsAClearMostlyHorizontalGap(double ax, double ay, double bx, double by, bool expected)
    {
        var spec = new ShapesSpec(ShapesCategory.Position, [new(ShapeKind.Circle), new(ShapeKind.Square)], ShapeRelation.LeftOf);
        Assert.Equal(expected, Judge(spec, At(ShapeKind.Circle, ShapeColor.Red, ax, ay), At(ShapeKind.Square, ShapeColor.Blue, bx, by)));
        var converse = spec with { Relation = ShapeRelation.RightOf, Objects = [new(ShapeKind.Square), new(ShapeKind.Circle)] };
        Assert.Equal(expected, Judge(converse, At(ShapeKind.Circle, ShapeColor.Red, ax, ay), At(ShapeKind.Square, ShapeColor.Blue, bx, by)));
    }

    [Theory]
    [InlineData(0.2, 0.2, ShapeRelation.TopLeft, true)]
    [InlineData(0.44, 0.3, ShapeRelation.TopLeft, true)]
    [InlineData(0.47, 0.3, ShapeRelation.TopLeft, false)]
    [InlineData(0.8, 0.2, ShapeRelation.TopRight, true)]
    [InlineData(0.8, 0.8, ShapeRelation.BottomRight, true)]
    [InlineData(0.2, 0.8, ShapeRelation.BottomRight, false)]
    public void CornersNeedTheCentreWellInsideTheQuadrant(double cx, double cy, ShapeRelation corner, bool expected)
    {
        var spec = new ShapesSpec(ShapesCategory.Position, [new(ShapeKind.Star)], corner);
        Assert.Equal(expected, Judge(spec, At(ShapeKind.Star, ShapeColor.Red, cx, cy)));
    }

    [Fact]
    public void CountingIsExactAndOtherClaimsAreAtLeast()
    {
        var two = new[] { At(ShapeKind.Circle, ShapeColor.Red, 0.3, 0.3), At(ShapeKind.Circle, ShapeColor.Blue, 0.7, 0.7) };
        Assert.True(Judge(new(ShapesCategory.Counting, [new(ShapeKind.Circle, null, 2)]), two));
        Assert.False(Judge(new(ShapesCategory.Counting, [new(ShapeKind.Circle, null, 3)]), two));
        Assert.False(Judge(new(ShapesCategory.Counting, [new(ShapeKind.Circle, ShapeColor.Red, 2)]), two));
        Assert.True(Judge(new(ShapesCategory.Counting, [new(ShapeKind.Circle, ShapeColor.Red, 1)]), two));
        Assert.True(Judge(new(ShapesCategory.SingleObject, [new(ShapeKind.Circle)]), two));
        Assert.False(Judge(new(ShapesCategory.SingleObject, [new(ShapeKind.Square)]), two));
    }

    [Fact]
    public void ColourAttributionChecksEachBinding()
    {
        var objects = new[] { At(ShapeKind.Circle, ShapeColor.Red, 0.3, 0.3), At(ShapeKind.Square, ShapeColor.Blue, 0.7, 0.7) };
        Assert.True(Judge(new(ShapesCategory.ColorAttr, [new(ShapeKind.Circle, ShapeColor.Red), new(ShapeKind.Square, ShapeColor.Blue)]), objects));
        Assert.False(Judge(new(ShapesCategory.ColorAttr, [new(ShapeKind.Circle, ShapeColor.Blue), new(ShapeKind.Square, ShapeColor.Red)]), objects));
    }

    [Fact]
    public void ANamedBackgroundMustMatch()
    {
        var spec = new ShapesSpec(ShapesCategory.SingleObject, [new(ShapeKind.Circle)], null, ShapeColor.White);
        var circle = At(ShapeKind.Circle, ShapeColor.Red, 0.5, 0.5);
        Assert.False(ShapesJudge.Judge(spec, ShapeColor.Gray, [circle]).Correct);
        Assert.True(ShapesJudge.Judge(spec, ShapeColor.White, [circle]).Correct);
    }
}
