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
            MarkChecks.AnalyserReadsOnlyTheObjects(scene, strokes);
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
            var boxes = ShapesStrokes.Strokes(scene, new Random(100 + i)).Select(s => s.Box).ToList();
            for (int k = 0; k < boxes.Count; k++) MarkChecks.KeepsClear(boxes[k], scene, boxes.Skip(k + 1), $"scene {i}: line {k}");
        }
    }

    [Fact]
    public void LinesChangeOnlyTheirOwnPixelsAndFollowTheSeed()
    {
        var scene = ShapesDataset.Scene(8, 3, ShapesSplit.Train);
        var strokes = ShapesStrokes.Strokes(scene, new Random(5));
        Assert.Equal(strokes, ShapesStrokes.Strokes(scene, new Random(5)));
        Assert.NotEmpty(strokes);
        int changed = MarkChecks.ChangedPixels(scene, strokes, (u, v) => strokes.Any(s =>
            u >= Math.Min(s.X0, s.X1) - s.Width && u <= Math.Max(s.X0, s.X1) + s.Width && v >= Math.Min(s.Y0, s.Y1) - s.Width && v <= Math.Max(s.Y0, s.Y1) + s.Width));
        Assert.True(changed > 0, "drawing the lines changed no pixel");
        // A line 1 to 3 pixels wide and 8 to 26 long covers far less than a tenth of the image.
        Assert.True(changed < strokes.Count * 120, $"{changed} pixels changed by {strokes.Count} lines");
    }

    [Fact]
    public void ScenesWithLinesAreNotRedrawnAndBadFractionsAreRefused()
    {
        MarkChecks.MarkedScenesAreNotRedrawn((scene, rng) => ShapesStrokes.Strokes(scene, rng));
        var bad = new VaeTrainingOptions { Steps = 1, StrokeFraction = 1.5 };
        Assert.Contains("stroke fraction 1.5", Assert.Throws<NextStepException>(() => VaeTrainer.Train(VaeTrainer.SmallConfig, bad)).Message);
    }
}
