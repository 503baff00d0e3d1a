using NextStep.Training;
using NextStep.Training.Shapes;
using Xunit;
using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Tests.Shapes;

/// <summary>The spiky-blot augmentation of VAE training (<c>train-vae --burrs</c>).</summary>
public class ShapesBurrsTests
{
    [Fact]
    public void BlotsNeverShowTheAnalyserAShapeLeastOfAllAHeldOutPair()
    {
        // Over 300 train-split scenes with lines and blots, the analyser must recognise exactly what it recognises
        // without them (a blot is never read as a shape, and never covers an object), so no held-out pair can appear.
        int blots = 0, greenOnGray = 0;
        for (int i = 0; i < 300; i++)
        {
            var scene = ShapesDataset.Scene(9, i, ShapesSplit.Train);
            var strokes = ShapesStrokes.Strokes(scene, new Random(i));
            var burrs = ShapesBurrs.Burrs(scene, new Random(1000 + i), strokes);
            blots += burrs.Count;
            greenOnGray += burrs.Count(b => b.Rgb == Rgb(ShapeColor.Green) && scene.Background == ShapeColor.Gray);
            MarkChecks.AnalyserReadsOnlyTheObjects(scene, [.. strokes, .. burrs]);
        }
        // One or two blots per scene where they fit, and green blots on gray, the case they are for, do occur.
        Assert.InRange(blots, 150, 600);
        Assert.True(greenOnGray >= 5, $"only {greenOnGray} green blots on gray backgrounds in 300 scenes");
    }

    [Fact]
    public void BlotsAreNeverFivePointedAndKeepClearOfObjectsLinesEachOtherAndTheBorder()
    {
        for (int i = 0; i < 200; i++)
        {
            var scene = ShapesDataset.Scene(10, i, ShapesSplit.Train);
            var strokes = ShapesStrokes.Strokes(scene, new Random(i));
            var burrs = ShapesBurrs.Burrs(scene, new Random(500 + i), strokes);
            for (int k = 0; k < burrs.Count; k++)
            {
                Assert.Contains(burrs[k].Points, new[] { 3, 4, 6, 7, 8 });
                Assert.Equal(2 * burrs[k].Points, burrs[k].Outline.Length);
                MarkChecks.KeepsClear(burrs[k].Box, scene, strokes.Select(s => s.Box).Concat(burrs.Skip(k + 1).Select(b => b.Box)), $"scene {i}: blot {k}");
            }
        }
    }

    [Fact]
    public void BlotsArePointedFollowTheSeedAndChangeOnlyTheirOwnPixels()
    {
        var scene = ShapesDataset.Scene(11, 2, ShapesSplit.Train);
        var burrs = ShapesBurrs.Burrs(scene, new Random(3));
        Assert.Equal(burrs, ShapesBurrs.Burrs(scene, new Random(3)));
        Assert.NotEmpty(burrs);
        // Tips and notches alternate: every notch is nearer the centre than both of its tips.
        foreach (var burr in burrs)
        {
            var r = burr.Outline.Select(p => Math.Sqrt((p.X - burr.Cx) * (p.X - burr.Cx) + (p.Y - burr.Cy) * (p.Y - burr.Cy))).ToArray();
            for (int i = 1; i < r.Length; i += 2) Assert.True(r[i] < r[i - 1] && r[i] < r[(i + 1) % r.Length], $"notch {i / 2} is not inside its tips");
        }
        const double pixel = 1.0 / 64;
        int changed = MarkChecks.ChangedPixels(scene, burrs, (u, v) => burrs.Any(b =>
            u >= b.Box.X - pixel && u <= b.Box.R + pixel && v >= b.Box.Y - pixel && v <= b.Box.B + pixel));
        Assert.True(changed > 0, "drawing the blots changed no pixel");
    }

    [Fact]
    public void ScenesWithBlotsAreNotRedrawnAndBadFractionsAreRefused()
    {
        MarkChecks.MarkedScenesAreNotRedrawn((scene, rng) => ShapesBurrs.Burrs(scene, rng));
        var bad = new VaeTrainingOptions { Steps = 1, BurrFraction = -0.5 };
        Assert.Contains("burr fraction -0.5", Assert.Throws<NextStepException>(() => VaeTrainer.Train(VaeTrainer.SmallConfig, bad)).Message);
    }
}
