using NextStep.Training;
using NextStep.Training.Shapes;
using Xunit;

namespace NextStep.Tests.Shapes;

/// <summary>Checks that every mark augmentation of VAE training (lines, blots) must pass.</summary>
internal static class MarkChecks
{
    /// <summary>The analyser reads exactly the scene's own objects with the marks drawn as without them, and no held-out pair.</summary>
    public static void AnalyserReadsOnlyTheObjects(ShapesScene scene, IReadOnlyList<ShapesMark> marks)
    {
        var image = ShapesRenderer.Render(scene);
        ShapesMarks.Draw(image, marks);
        var with = ShapesAnalyser.Analyse(image).Objects;
        var without = ShapesAnalyser.Analyse(ShapesRenderer.Render(scene)).Objects;
        Assert.Equal(without.Select(o => (o.Shape, o.Color)).OrderBy(x => x), with.Select(o => (o.Shape, o.Color)).OrderBy(x => x));
        Assert.DoesNotContain(with, o => ShapesSplits.IsHeldOut(o.Shape, o.Color));
    }

    /// <summary>The box keeps the border margin and overlaps no object of the scene and none of <paramref name="others"/>.</summary>
    public static void KeepsClear((double X, double Y, double R, double B) b, ShapesScene scene, IEnumerable<(double X, double Y, double R, double B)> others, string what)
    {
        Assert.True(b.X >= ShapesMarks.Margin && b.Y >= ShapesMarks.Margin && b.R <= 1 - ShapesMarks.Margin && b.B <= 1 - ShapesMarks.Margin, $"{what} reaches the border margin");
        foreach (var o in scene.Objects)
            Assert.False(b.X < o.X + o.Width && o.X < b.R && b.Y < o.Y + o.Height && o.Y < b.B, $"{what} overlaps the {o.Shape}");
        foreach (var other in others)
            Assert.False(b.X < other.R && other.X < b.R && b.Y < other.B && other.Y < b.B, $"{what} overlaps another mark");
    }

    /// <summary>Draws the marks over the scene and returns how many pixels changed, each of whose centres (fractions of
    /// the side) must be <paramref name="allowed"/>.</summary>
    public static int ChangedPixels(ShapesScene scene, IReadOnlyList<ShapesMark> marks, Func<double, double, bool> allowed)
    {
        var plain = ShapesRenderer.Render(scene);
        var drawn = ShapesRenderer.Render(scene);
        ShapesMarks.Draw(drawn, marks);
        int changed = 0;
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                int i = (y * 64 + x) * 3;
                if (plain.Rgb[i] == drawn.Rgb[i] && plain.Rgb[i + 1] == drawn.Rgb[i + 1] && plain.Rgb[i + 2] == drawn.Rgb[i + 2]) continue;
                changed++;
                Assert.True(allowed((x + 0.5) / 64, (y + 0.5) / 64), $"pixel ({x}, {y}) changed outside the marks");
            }
        return changed;
    }

    /// <summary>Of six train scenes, the even ones get marks from <paramref name="make"/>: those keep their encoder tokens
    /// (no caption to redraw from), the others are redrawn from their captions.</summary>
    public static void MarkedScenesAreNotRedrawn(Func<ShapesScene, Random, IReadOnlyList<ShapesMark>> make)
    {
        var scenes = Enumerable.Range(0, 6).Select(i => ShapesDataset.Scene(0, i, ShapesSplit.Train)).ToList();
        var none = scenes.Select(_ => (IReadOnlyList<(byte R, byte G, byte B)>?)null).ToList();
        var marks = scenes.Select((s, i) => i % 2 == 0 ? make(s, new Random(i)) : []).ToList();
        Assert.All(marks.Where((_, i) => i % 2 == 0), m => Assert.NotEmpty(m));
        var captions = VaeTrainer.RedrawCaptions(scenes, none, marks);
        for (int i = 0; i < scenes.Count; i++) Assert.Equal(i % 2 == 0 ? null : scenes[i].Caption, captions[i]);
    }
}
