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
            var image = ShapesRenderer.Render(scene);
            ShapesMarks.Draw(image, [.. strokes, .. burrs]);
            var with = ShapesAnalyser.Analyse(image).Objects;
            var without = ShapesAnalyser.Analyse(ShapesRenderer.Render(scene)).Objects;
            Assert.Equal(without.Select(o => (o.Shape, o.Color)).OrderBy(x => x), with.Select(o => (o.Shape, o.Color)).OrderBy(x => x));
            Assert.DoesNotContain(with, o => ShapesSplits.IsHeldOut(o.Shape, o.Color));
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
            foreach (var (burr, k) in burrs.Select((b, k) => (b, k)))
            {
                Assert.Contains(burr.Points, new[] { 3, 4, 6, 7, 8 });
                Assert.Equal(2 * burr.Points, burr.Outline.Length);
                var b = burr.Box;
                Assert.True(b.X >= ShapesMarks.Margin && b.Y >= ShapesMarks.Margin && b.R <= 1 - ShapesMarks.Margin && b.B <= 1 - ShapesMarks.Margin, $"scene {i}: blot {k} reaches the border margin");
                foreach (var o in scene.Objects)
                    Assert.False(b.X < o.X + o.Width && o.X < b.R && b.Y < o.Y + o.Height && o.Y < b.B, $"scene {i}: blot {k} overlaps the {o.Shape}");
                foreach (var other in strokes.Select(s => s.Box).Concat(burrs.Skip(k + 1).Select(s => s.Box)))
                    Assert.False(b.X < other.R && other.X < b.R && b.Y < other.B && other.Y < b.B, $"scene {i}: blot {k} overlaps another mark");
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
        var plain = ShapesRenderer.Render(scene);
        var drawn = ShapesRenderer.Render(scene);
        ShapesMarks.Draw(drawn, burrs);
        int changed = 0;
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                int i = (y * 64 + x) * 3;
                if (plain.Rgb[i] == drawn.Rgb[i] && plain.Rgb[i + 1] == drawn.Rgb[i + 1] && plain.Rgb[i + 2] == drawn.Rgb[i + 2]) continue;
                changed++;
                double u = (x + 0.5) / 64, v = (y + 0.5) / 64;
                Assert.Contains(burrs, b => u >= b.Box.X - 1.0 / 64 && u <= b.Box.R + 1.0 / 64 && v >= b.Box.Y - 1.0 / 64 && v <= b.Box.B + 1.0 / 64);
            }
        Assert.True(changed > 0, "drawing the blots changed no pixel");
    }

    [Fact]
    public void ScenesWithBlotsAreNotRedrawnAndBadFractionsAreRefused()
    {
        var scenes = Enumerable.Range(0, 6).Select(i => ShapesDataset.Scene(0, i, ShapesSplit.Train)).ToList();
        var none = scenes.Select(_ => (IReadOnlyList<(byte R, byte G, byte B)>?)null).ToList();
        var burrs = scenes.Select((s, i) => i % 2 == 0 ? ShapesBurrs.Burrs(s, new Random(i)) : []).ToList();
        Assert.All(burrs.Where((_, i) => i % 2 == 0), b => Assert.NotEmpty(b));
        var captions = VaeTrainer.RedrawCaptions(scenes, none, burrs);
        for (int i = 0; i < scenes.Count; i++) Assert.Equal(i % 2 == 0 ? null : scenes[i].Caption, captions[i]);
        var bad = new VaeTrainingOptions { Steps = 1, BurrFraction = -0.5 };
        Assert.Contains("burr fraction -0.5", Assert.Throws<NextStepException>(() => VaeTrainer.Train(VaeTrainer.SmallConfig, bad)).Message);
    }
}
