using NextStep.Training;
using NextStep.Training.Shapes;
using Xunit;
using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Tests.Shapes;

/// <summary>The line augmentation of VAE training (<c>train-vae --strokes</c>).</summary>
public class ShapesStrokesTests
{
    [Fact]
    public void LinesNeverShowTheAnalyserAShapeLeastOfAllAHeldOutPair()
    {
        // Over 400 train-split scenes with lines, the analyser must recognise exactly what it recognises without them
        // (a line is never read as a shape, and never covers an object), so no held-out pair can appear.
        int lines = 0, greenOnGray = 0;
        for (int i = 0; i < 400; i++)
        {
            var scene = ShapesDataset.Scene(6, i, ShapesSplit.Train);
            var strokes = ShapesStrokes.Strokes(scene, new Random(i));
            lines += strokes.Count;
            greenOnGray += strokes.Count(s => s.Rgb == Rgb(ShapeColor.Green) && scene.Background == ShapeColor.Gray);
            var image = ShapesRenderer.Render(scene);
            ShapesMarks.Draw(image, strokes);
            var with = ShapesAnalyser.Analyse(image).Objects;
            var without = ShapesAnalyser.Analyse(ShapesRenderer.Render(scene)).Objects;
            Assert.Equal(without.Select(o => (o.Shape, o.Color)).OrderBy(x => x), with.Select(o => (o.Shape, o.Color)).OrderBy(x => x));
            Assert.DoesNotContain(with, o => ShapesSplits.IsHeldOut(o.Shape, o.Color));
        }
        // One to three lines per scene (fewer in crowded ones), and green lines on gray, the case they are for, do occur.
        Assert.InRange(lines, 500, 1200);
        Assert.True(greenOnGray >= 10, $"only {greenOnGray} green lines on gray backgrounds in 400 scenes");
    }

    [Fact]
    public void LinesKeepClearOfObjectsEachOtherAndTheBorder()
    {
        for (int i = 0; i < 200; i++)
        {
            var scene = ShapesDataset.Scene(7, i, ShapesSplit.Train);
            var strokes = ShapesStrokes.Strokes(scene, new Random(100 + i));
            var boxes = strokes.Select(s => (X: Math.Min(s.X0, s.X1) - s.Width, Y: Math.Min(s.Y0, s.Y1) - s.Width, R: Math.Max(s.X0, s.X1) + s.Width, B: Math.Max(s.Y0, s.Y1) + s.Width)).ToList();
            foreach (var (b, k) in boxes.Select((b, k) => (b, k)))
            {
                Assert.True(b.X >= ShapesMarks.Margin && b.Y >= ShapesMarks.Margin && b.R <= 1 - ShapesMarks.Margin && b.B <= 1 - ShapesMarks.Margin, $"scene {i}: line {k} reaches the border margin");
                foreach (var o in scene.Objects)
                    Assert.False(b.X < o.X + o.Width && o.X < b.R && b.Y < o.Y + o.Height && o.Y < b.B, $"scene {i}: line {k} overlaps the {o.Shape}");
                foreach (var other in boxes.Skip(k + 1))
                    Assert.False(b.X < other.R && other.X < b.R && b.Y < other.B && other.Y < b.B, $"scene {i}: two lines overlap");
            }
        }
    }

    [Fact]
    public void LinesChangeOnlyTheirOwnPixelsAndFollowTheSeed()
    {
        var scene = ShapesDataset.Scene(8, 3, ShapesSplit.Train);
        var strokes = ShapesStrokes.Strokes(scene, new Random(5));
        Assert.Equal(strokes, ShapesStrokes.Strokes(scene, new Random(5)));
        Assert.NotEmpty(strokes);
        var plain = ShapesRenderer.Render(scene);
        var drawn = ShapesRenderer.Render(scene);
        ShapesMarks.Draw(drawn, strokes);
        int changed = 0;
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                int i = (y * 64 + x) * 3;
                if (plain.Rgb[i] == drawn.Rgb[i] && plain.Rgb[i + 1] == drawn.Rgb[i + 1] && plain.Rgb[i + 2] == drawn.Rgb[i + 2]) continue;
                changed++;
                double u = (x + 0.5) / 64, v = (y + 0.5) / 64;
                Assert.Contains(strokes, s => u >= Math.Min(s.X0, s.X1) - s.Width && u <= Math.Max(s.X0, s.X1) + s.Width
                                              && v >= Math.Min(s.Y0, s.Y1) - s.Width && v <= Math.Max(s.Y0, s.Y1) + s.Width);
            }
        Assert.True(changed > 0, "drawing the lines changed no pixel");
        // A line 1 to 3 pixels wide and 8 to 26 long covers far less than a tenth of the image.
        Assert.True(changed < strokes.Count * 120, $"{changed} pixels changed by {strokes.Count} lines");
    }

    [Fact]
    public void ScenesWithLinesAreNotRedrawnAndBadFractionsAreRefused()
    {
        var scenes = Enumerable.Range(0, 6).Select(i => ShapesDataset.Scene(0, i, ShapesSplit.Train)).ToList();
        var none = scenes.Select(_ => (IReadOnlyList<(byte R, byte G, byte B)>?)null).ToList();
        var strokes = scenes.Select((s, i) => i % 2 == 0 ? ShapesStrokes.Strokes(s, new Random(i)) : []).ToList();
        Assert.All(strokes.Where((_, i) => i % 2 == 0), s => Assert.NotEmpty(s));
        var captions = VaeTrainer.RedrawCaptions(scenes, none, strokes);
        for (int i = 0; i < scenes.Count; i++) Assert.Equal(i % 2 == 0 ? null : scenes[i].Caption, captions[i]);
        var bad = new VaeTrainingOptions { Steps = 1, StrokeFraction = 1.5 };
        Assert.Contains("stroke fraction 1.5", Assert.Throws<NextStepException>(() => VaeTrainer.Train(VaeTrainer.SmallConfig, bad)).Message);
    }
}
