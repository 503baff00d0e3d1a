using NextStep.Training;
using NextStep.Training.Shapes;
using Xunit;
using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Tests.Shapes;

/// <summary>The colour augmentation of VAE training (<c>train-vae --recolor</c>) and its renderer hook.</summary>
public class ShapesRecolorTests
{
    [Fact]
    public void RecolouredTrainScenesNeverShowAHeldOutPairToTheAnalyser()
    {
        // Every object recoloured: over 600 train-split scenes (about 1,000 objects) the analyser, which reads colours as
        // their nearest palette colour, must never recognise a held-out pair, and every object must stand out from the
        // background by the stated contrast.
        int objects = 0, recognised = 0;
        for (int i = 0; i < 600; i++)
        {
            var scene = ShapesDataset.Scene(5, i, ShapesSplit.Train);
            var colors = ShapesRecolor.Colors(scene, new Random(i), fraction: 1);
            foreach (var rgb in colors)
            {
                var bg = Rgb(scene.Background);
                double d = Math.Sqrt(Math.Pow(rgb.R - bg.R, 2) + Math.Pow(rgb.G - bg.G, 2) + Math.Pow(rgb.B - bg.B, 2));
                Assert.True(d >= ShapesRecolor.MinContrast, $"scene {i}: {rgb} is {d:F0} from the {scene.Background} background");
            }
            objects += colors.Count;
            var analysis = ShapesAnalyser.Analyse(ShapesRenderer.Render(scene, 64, 64, colors));
            foreach (var o in analysis.Objects)
            {
                recognised++;
                Assert.False(ShapesSplits.IsHeldOut(o.Shape, o.Color), $"scene {i}: the analyser reads a held-out {Name(o.Color)} {o.Shape} in a recoloured image");
            }
        }
        Assert.True(objects > 900 && recognised > objects / 2, $"{recognised} of {objects} objects recognised: too few to test");
    }

    [Fact]
    public void RandomColoursCoverTheCubeAndReachTheHeldOutColoursOnOtherShapes()
    {
        var rng = new Random(3);
        var greens = 0;
        var circle = new ShapesScene("c", new ShapesSpec(ShapesCategory.SingleObject, [new ObjectClaim(ShapeKind.Circle)]), ShapeColor.Gray,
            [new ShapeObject(ShapeKind.Circle, ShapeColor.Red, 0.2, 0.2, 0.5, 0.5)]);
        for (int k = 0; k < 2000; k++)
        {
            var rgb = ShapesRecolor.Colors(circle, rng, 1)[0];
            if (ObjectColors.MinBy(c => Dist(Rgb(c), rgb)) == ShapeColor.Green) greens++;
        }
        // Green is held out for stars only: a circle still gets greenish colours (about a ninth of the cube's allowed part).
        Assert.InRange(greens, 100, 500);
        Assert.False(ShapesRecolor.Allowed(ShapeKind.Star, Rgb(ShapeColor.Green), ShapeColor.Gray));
        Assert.True(ShapesRecolor.Allowed(ShapeKind.Circle, Rgb(ShapeColor.Green), ShapeColor.Gray));
        Assert.False(ShapesRecolor.Allowed(ShapeKind.Circle, (120, 130, 125), ShapeColor.Gray));   // too close to the gray background
    }

    [Fact]
    public void FractionZeroIsThePaletteAndColoursFollowTheSeed()
    {
        var scene = ShapesDataset.Scene(5, 7, ShapesSplit.Train);
        var palette = ShapesRecolor.Colors(scene, new Random(1), 0);
        Assert.Equal(scene.Objects.Select(o => Rgb(o.Color)), palette);
        Assert.Equal(ShapesRenderer.Render(scene).Rgb, ShapesRenderer.Render(scene, 64, 64, palette).Rgb);
        Assert.Equal(ShapesRecolor.Colors(scene, new Random(9), 1), ShapesRecolor.Colors(scene, new Random(9), 1));
        foreach (var bad in new[] { -0.1, 1.5, double.NaN })
            Assert.Contains($"recolour fraction {bad}", Assert.Throws<NextStepException>(() => ShapesRecolor.Colors(scene, new Random(1), bad)).Message);
    }

    [Fact]
    public void RendererDrawsTheGivenObjectColours()
    {
        var scene = new ShapesScene("a square", new ShapesSpec(ShapesCategory.SingleObject, [new ObjectClaim(ShapeKind.Square)]), ShapeColor.Black,
            [new ShapeObject(ShapeKind.Square, ShapeColor.Red, 0.25, 0.25, 0.5, 0.5)]);
        var image = ShapesRenderer.Render(scene, 64, 64, [(12, 200, 99)]);
        int centre = (32 * 64 + 32) * 3;
        Assert.Equal(new byte[] { 12, 200, 99 }, image.Rgb[centre..(centre + 3)]);
        Assert.Equal(Rgb(ShapeColor.Black), (image.Rgb[0], image.Rgb[1], image.Rgb[2]));
        Assert.Contains("2 object colours for a scene of 1 objects",
            Assert.Throws<NextStepException>(() => ShapesRenderer.Render(scene, 64, 64, [(1, 2, 3), (4, 5, 6)])).Message);
    }

    [Fact]
    public void VaeTrainingImagesFollowTheSplitAndTheRecolourFraction()
    {
        var train = new VaeTrainingOptions { DataSeed = 4 };
        using (var pixels = VaeTrainer.TrainingPixels(train, 10, 3, 64))
        using (var expected = VaeTrainer.ShapesPixels(4, 10, 3, 64))
            Assert.True(pixels.equal(expected).all().item<bool>(), "recolour 0 on the train split must be the plain train-split images");
        var all = train with { Split = ShapesSplit.All };
        using (var pixels = VaeTrainer.TrainingPixels(all, 10, 3, 64))
        using (var expected = VaeTrainer.ScenePixels(Enumerable.Range(10, 3).Select(i => ShapesDataset.Scene(4, i, ShapesSplit.All)), 64))
            Assert.True(pixels.equal(expected).all().item<bool>(), "split All must draw the All-split scenes");
        var recoloured = train with { RecolorFraction = 1 };
        using (var a = VaeTrainer.TrainingPixels(recoloured, 10, 3, 64))
        using (var b = VaeTrainer.TrainingPixels(recoloured, 10, 3, 64))
        using (var plain = VaeTrainer.ShapesPixels(4, 10, 3, 64))
        {
            Assert.True(a.equal(b).all().item<bool>(), "recoloured images must be reproducible");
            Assert.False(a.equal(plain).all().item<bool>(), "recolour 1 must change the images");
        }
        Assert.Contains("split HeldOut", Assert.Throws<NextStepException>(() => VaeTrainer.Train(VaeTrainer.SmallConfig, train with { Split = ShapesSplit.HeldOut })).Message);
        Assert.Contains("recolour fraction 2", Assert.Throws<NextStepException>(() => VaeTrainer.Train(VaeTrainer.SmallConfig, train with { RecolorFraction = 2 })).Message);
    }

    private static double Dist((byte R, byte G, byte B) a, (byte R, byte G, byte B) b)
        => Math.Sqrt(Math.Pow(a.R - b.R, 2) + Math.Pow(a.G - b.G, 2) + Math.Pow(a.B - b.B, 2));
}
