using NextStep.Model;
using NextStep.Tests.Support;
using NextStep.Training.Shapes;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Shapes;

/// <summary>The Shapes detector (<c>detector/</c>): its training targets, training, and its files.</summary>
[Collection(GlobalRngCollection.Name)]
public class ShapesDetectorTests
{
    private static readonly ShapesDetectorConfig Small = new([16, 16, 16, 16], [1, 2, 2, 1]);

    [Fact]
    public void TargetsMarkEachObjectsCentreCell()
    {
        // A red circle with its box at (0.1, 0.2), 0.25 wide: centre (0.225, 0.325) → 3.6, 5.2 cells on the 16×16 grid:
        // cell (x 3, y 5), offset (0.6, 0.2); σ = 0.25·16/6 = 2/3 cell, so the cell beside it gets exp(−1/(2σ²)) = exp(−1.125).
        // A blue star on the right; a black background.
        var scene = new ShapesScene("x", new ShapesSpec(ShapesCategory.TwoObjects, [new(ShapeKind.Circle), new(ShapeKind.Star)]), ShapeColor.Black,
            [new(ShapeKind.Circle, ShapeColor.Red, 0.1, 0.2, 0.25, 0.25), new(ShapeKind.Star, ShapeColor.Blue, 0.7, 0.6, 0.2, 0.2)]);
        var t = ShapesDetectorTrainer.Targets(ShapesDetectorConfig.Default, [scene]);
        Assert.Equal(new long[] { 1, 5, 16, 16 }, t.Heatmap.shape);
        int circle = Array.IndexOf(ShapesDetector.Shapes, ShapeKind.Circle), star = Array.IndexOf(ShapesDetector.Shapes, ShapeKind.Star);
        Assert.Equal(1f, t.Heatmap[0, circle, 5, 3].item<float>());
        Assert.Equal(Math.Exp(-1.125), t.Heatmap[0, circle, 5, 4].item<float>(), 5);
        Assert.Equal(0f, t.Heatmap[0, star, 5, 3].item<float>(), 6);
        // the star: centre (0.8, 0.7) → cell (12, 11), offset (0.8, 0.2)
        Assert.Equal(1f, t.Heatmap[0, star, 11, 12].item<float>());
        Assert.Equal(2L, t.CenterMask.sum().item<long>());
        Assert.True(t.CenterMask[0, 5, 3].item<bool>() && t.CenterMask[0, 11, 12].item<bool>());
        Assert.Equal(Array.IndexOf(ShapesDetector.Colors, ShapeColor.Red), t.Color[0, 5, 3].item<long>());
        Assert.Equal(Array.IndexOf(ShapesDetector.Colors, ShapeColor.Blue), t.Color[0, 11, 12].item<long>());
        Assert.Equal(-100L, t.Color[0, 0, 0].item<long>());
        Assert.Equal(0.6, t.Offset[0, 0, 5, 3].item<float>(), 5);
        Assert.Equal(0.2, t.Offset[0, 1, 5, 3].item<float>(), 5);
        Assert.Equal(0.8, t.Offset[0, 0, 11, 12].item<float>(), 5);
        Assert.Equal(Array.IndexOf(ShapesDetector.Backgrounds, ShapeColor.Black), t.Background[0].item<long>());
    }

    [Fact]
    public void AMirroredSceneHasItsCentresMirrored()
    {
        var scene = ShapesSampler.Sample(17, ShapesSplit.Train);
        var mirrored = ShapesDetectorTrainer.Mirrored(scene);
        for (int i = 0; i < scene.Objects.Count; i++)
        {
            Assert.Equal(1 - scene.Objects[i].CenterX, mirrored.Objects[i].CenterX, 12);
            Assert.Equal(scene.Objects[i].CenterY, mirrored.Objects[i].CenterY, 12);
            Assert.Equal(scene.Objects[i].Shape, mirrored.Objects[i].Shape);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryParameterGetsAGradient(bool factorised)
    {
        torch.manual_seed(6);
        using var detector = new ShapesDetector(Small with { Factorised = factorised });
        var scenes = new[] { ShapesSampler.Sample(3, ShapesSplit.Train), ShapesSampler.Sample(4, ShapesSplit.Train) };
        using Scalar two = 2, one = 1;
        var (cells, background) = detector.forward(rand(2, 3, 64, 64).mul(two).sub(one));
        ShapesDetectorTrainer.Loss(cells, background, ShapesDetectorTrainer.Targets(Small, scenes)).Loss.backward();
        foreach (var (name, p) in detector.named_parameters())
            Assert.True(p.grad is { } g && g.abs().sum().item<float>() > 0, $"{name} has no gradient");
    }

    /// <summary>Eighty steps of a small detector on pictures through the committed VAE: the loss falls.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingLowersTheLoss(bool factorised)
    {
        using var vae = AutoencoderKL.Load(Path.Combine(Fixtures.DefaultModel, "vae"));
        var losses = new List<double>();
        var options = new ShapesDetectorTrainingOptions { Steps = 80, BatchSize = 16, PoolScenes = 32, WarmupSteps = 5, LearningRate = 5e-3, Seed = 4, Config = Small with { Factorised = factorised } };
        using var detector = ShapesDetectorTrainer.Train(vae, options, (_, l) => losses.Add(l.Total));
        Assert.Equal(80, losses.Count);
        double first = losses.Take(10).Average(), last = losses.Skip(70).Average();
        Assert.True(last < first - 0.5, $"loss went from {first:F3} (first 10 steps) to {last:F3} (last 10)");
    }

    /// <summary>One pixel of colour c on a uniform background b: ‖c − b‖ there, the colour change at it and at its left and upper neighbours, 0 elsewhere.</summary>
    [Fact]
    public void TheColourBlindPictureIsComputedByHand()
    {
        float[] b = [0.2f, -0.1f, 0.4f], c = [0.9f, 0.5f, -0.3f];
        using var pixels = zeros(1, 3, 6, 6);
        for (int ch = 0; ch < 3; ch++) { pixels[0, ch].fill_(b[ch]); pixels[0, ch, 2, 3].fill_(c[ch]); }
        using var background = tensor(b).unsqueeze(0);
        using var blind = ShapesDetector.ColourBlind(pixels, background);
        double d = Math.Sqrt(Enumerable.Range(0, 3).Sum(ch => (c[ch] - b[ch]) * (c[ch] - (double)b[ch])));
        double Expected(int channel, int y, int x) => channel == 0
            ? (y == 2 && x == 3 ? Math.Tanh(4 * d) : 0)
            : (y == 2 && x == 3 ? Math.Tanh(4 * Math.Sqrt(2 * d * d + 1e-8)) : (y, x) is (2, 2) or (1, 3) ? Math.Tanh(4 * Math.Sqrt(d * d + 1e-8)) : Math.Tanh(4 * 1e-4));
        for (int ch = 0; ch < 2; ch++)
            for (int y = 0; y < 6; y++)
                for (int x = 0; x < 6; x++)
                    Assert.True(Math.Abs(blind[0, ch, y, x].item<float>() - Expected(ch, y, x)) < 1e-5, $"channel {ch} at ({y}, {x}): {blind[0, ch, y, x].item<float>()} against {Expected(ch, y, x)}");
    }

    /// <summary>
    /// On a gray background, swapping the colour channels of a picture changes every object's colour but no distance to
    /// the background or between neighbours: a factorised detector's heatmaps and offsets stay the same, its colour logits do not.
    /// </summary>
    [Fact]
    public void AFactorisedDetectorReadsShapesWithoutTheirColours()
    {
        torch.manual_seed(8);
        using var detector = new ShapesDetector(Small with { Factorised = true });
        detector.eval();
        var scene = ShapesSampler.Sample(5, ShapesSplit.Train);
        scene = scene with { Background = ShapeColor.Gray, Objects = [.. scene.Objects.Select(o => o with { Color = ShapeColor.Red })] };
        using var pixels = NextStep.Pipeline.NextStepPipeline.ToPixels([ShapesRenderer.Render(scene)]);
        using var order = tensor(new long[] { 2, 0, 1 });
        using var swapped = pixels.index_select(1, order);
        using var noGrad = no_grad();
        var (a, _) = detector.forward(pixels);
        var (b, _) = detector.forward(swapped);
        int k = ShapesDetector.Shapes.Length, c = ShapesDetector.Colors.Length;
        TensorAssert.Close(a[.., ..k], b[.., ..k], atol: 1e-5, what: "heatmaps");
        TensorAssert.Close(a[.., (k + c)..], b[.., (k + c)..], atol: 1e-5, what: "offsets");
        Assert.True(a[.., k..(k + c)].sub(b[.., k..(k + c)]).abs().max().item<float>() > 1e-4, "colour logits did not change with the colours");
    }

    /// <summary>Stored as float16, every weight reads back as its float16 rounding; the file is half the size.</summary>
    [Fact]
    public void AFloat16DetectorReadsBackItsRoundedWeights()
    {
        var dir = Directory.CreateTempSubdirectory("shapes-detector-").FullName;
        try
        {
            torch.manual_seed(9);
            using var detector = new ShapesDetector(Small with { Factorised = true });
            detector.Save(Path.Combine(dir, "full"));
            detector.Save(Path.Combine(dir, ShapesDetectorConfig.FolderName), ScalarType.Float16);
            using var back = ShapesDetector.LoadFrom(dir)!;
            Assert.True(back.Config.Factorised);
            var original = detector.named_parameters().ToDictionary(x => x.name, x => x.parameter);
            foreach (var (name, p) in back.named_parameters())
            {
                using var rounded = original[name].detach().to_type(ScalarType.Float16).to_type(ScalarType.Float32);
                TensorAssert.Close(rounded, p, atol: 0, what: name);
            }
            long full = new FileInfo(Path.Combine(dir, "full", "model.safetensors")).Length;
            long half = new FileInfo(Path.Combine(dir, ShapesDetectorConfig.FolderName, "model.safetensors")).Length;
            Assert.InRange(half, full / 2 - 2000, full / 2 + 2000);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// A detector folder's <c>tie_breaker/</c>: ranks are (views in which the detector finds every claim) × (the
    /// tie-breaker's levels) + the tie-breaker's rank; a detector has one view, or two when it also reads the mirror
    /// image (<c>"mirror": true</c>). One detector that finds nothing (threshold 0.99 on a fresh init) and the committed
    /// one, which reads these train-split renderer scenes through the VAE exactly (mirrored too), are put above and
    /// below each other, with and without their mirror views.
    /// </summary>
    [Fact]
    public void ATieBreakerRanksOnlyAmongPicturesTheDetectorJudgesAlike()
    {
        var dir = Directory.CreateTempSubdirectory("shapes-detector-").FullName;
        try
        {
            foreach (var mirror in new[] { false, true })
            {
                var name = mirror ? "goodM" : "good";
                using (var committed = ShapesDetector.LoadFrom(Fixtures.DefaultModel)!) committed.Save(Path.Combine(dir, name));
                WithConfig(Path.Combine(dir, name), c => c with { Mirror = mirror, OrderByConfidence = false });
                torch.manual_seed(10);
                using (var blind = new ShapesDetector(Small with { Threshold = 0.99, Mirror = mirror })) blind.Save(Path.Combine(dir, mirror ? "blindM" : "blind"));
            }
            var scenes = new[] { ShapesSampler.Sample(11, ShapesSplit.Train), ShapesSampler.Sample(12, ShapesSplit.Train) };
            var images = Pictures.ThroughDefaultVae(scenes);
            int[] Ranks(string top, string? tie, int scene, int levels)
            {
                var folder = Path.Combine(dir, "model-" + top + "-" + tie);
                var detectorDir = Path.Combine(folder, ShapesDetectorConfig.FolderName);
                CopyFolder(Path.Combine(dir, top), detectorDir);
                if (tie is not null) CopyFolder(Path.Combine(dir, tie), Path.Combine(detectorDir, ShapesDetector.TieBreakerFolder));
                using var d = ShapesDetector.LoadFrom(folder)!;
                Assert.Equal(levels, d.Levels);
                return d.Ranks([images[scene]], scenes[scene].Spec);
            }
            for (int scene = 0; scene < 2; scene++)
            {
                Assert.Equal([1], Ranks("good", null, scene, 2));
                Assert.Equal([0], Ranks("blind", null, scene, 2));
                Assert.Equal([3], Ranks("good", "good", scene, 4));
                Assert.Equal([2], Ranks("good", "blind", scene, 4));
                Assert.Equal([1], Ranks("blind", "good", scene, 4));
                Assert.Equal([0], Ranks("blind", "blind", scene, 4));
                Assert.Equal([2], Ranks("goodM", null, scene, 3));
                Assert.Equal([0], Ranks("blindM", null, scene, 3));
                Assert.Equal([5], Ranks("goodM", "good", scene, 6));
                Assert.Equal([4], Ranks("goodM", "blind", scene, 6));
                Assert.Equal([1], Ranks("blindM", "good", scene, 6));
                Assert.Equal([5], Ranks("good", "goodM", scene, 6));
                Assert.Equal([3], Ranks("good", "blindM", scene, 6));
                Assert.Equal([2], Ranks("blind", "goodM", scene, 6));
                Assert.Equal([8], Ranks("goodM", "goodM", scene, 9));
            }

            using (var other = new ShapesDetector(Small with { ImageSize = 32 })) other.Save(Path.Combine(dir, "small"));
            var bad = Path.Combine(dir, "bad", ShapesDetectorConfig.FolderName);
            CopyFolder(Path.Combine(dir, "good"), bad);
            CopyFolder(Path.Combine(dir, "small"), Path.Combine(bad, ShapesDetector.TieBreakerFolder));
            var e = Assert.Throws<NextStepException>(() => ShapesDetector.LoadFrom(Path.Combine(dir, "bad")));
            Assert.Contains("tie_breaker", e.Message);
            Assert.Contains("reads 32×32 pictures", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// Reading a picture mirrored gives what the detector finds in the mirror image made by hand (pixel x ↔ 63 − x),
    /// with centres put back where they are in the picture (x ↦ 1 − x); a mirror detector's confidence is the mean over
    /// both views of its lowest peak score (1 for a view without objects).
    /// </summary>
    [Fact]
    public void AMirroredReadingIsTheReadingOfTheMirrorImageMappedBack()
    {
        var scenes = Enumerable.Range(0, 6).Select(i => ShapesSampler.Sample(40 + i, ShapesSplit.Train)).ToArray();
        var images = Pictures.ThroughDefaultVae(scenes);
        var byHand = images.Select(Pictures.Mirror).ToList();
        using var committed = ShapesDetector.LoadFrom(Fixtures.DefaultModel)!;
        var mirrored = committed.Detect(images, mirrored: true);
        var ofMirror = committed.Detect(byHand);
        var plain = committed.Detect(images);
        for (int i = 0; i < images.Count; i++)
        {
            Assert.Equal(ofMirror[i].Background, mirrored[i].Background);
            Assert.Equal(ofMirror[i].Objects.Count, mirrored[i].Objects.Count);
            Assert.NotEmpty(mirrored[i].Objects);
            foreach (var (a, b) in ofMirror[i].Objects.Zip(mirrored[i].Objects))
            {
                Assert.Equal((a.Shape, a.Color), (b.Shape, b.Color));
                Assert.Equal(1 - a.CenterX, b.CenterX, 6);
                Assert.Equal(a.CenterY, b.CenterY, 6);
                Assert.Equal(a.Score, b.Score, 5);
            }
        }
        var dir = Directory.CreateTempSubdirectory("shapes-detector-").FullName;
        try
        {
            var folder = Path.Combine(dir, ShapesDetectorConfig.FolderName);
            committed.Save(folder);
            WithConfig(folder, c => c with { Mirror = true });
            using var twoViews = ShapesDetector.LoadFrom(dir)!;
            var (_, confidence) = twoViews.Judge(images, scenes[0].Spec);
            for (int i = 0; i < images.Count; i++)
                Assert.Equal((plain[i].Objects.Min(o => o.Score) + ofMirror[i].Objects.Min(o => o.Score)) / 2, confidence[i], 5);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>Rewrites a detector folder's config.json.</summary>
    private static void WithConfig(string folder, Func<ShapesDetectorConfig, ShapesDetectorConfig> change)
    {
        var path = Path.Combine(folder, "config.json");
        change(ShapesDetectorConfig.Load(path)).Save(path);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)), true);
    }

    [Fact]
    public void SavedDetectorLoadsBackAndBadFilesAreNamed()
    {
        var dir = Directory.CreateTempSubdirectory("shapes-detector-").FullName;
        try
        {
            torch.manual_seed(3);
            using var detector = new ShapesDetector(Small with { Threshold = 0.4 });
            detector.Save(Path.Combine(dir, ShapesDetectorConfig.FolderName));
            using var back = ShapesDetector.LoadFrom(dir)!;
            Assert.Equal(detector.Config.Channels, back.Config.Channels);
            Assert.Equal(detector.Config.Strides, back.Config.Strides);
            Assert.Equal(0.4, back.Config.Threshold);
            Assert.False(back.Config.Mirror);
            Assert.False(back.Config.OrderByConfidence);
            using var x = rand(2, 3, 64, 64);
            detector.eval();
            TensorAssert.Close(detector.forward(x).Cells, back.forward(x).Cells, atol: 0, what: "loaded detector");
            Assert.Null(ShapesDetector.LoadFrom(Path.Combine(dir, "nowhere")));
            var e = Assert.Throws<NextStepException>(() => back.forward(rand(1, 3, 32, 32)));
            Assert.Contains("expected [B, 3, 64, 64]", e.Message);

            var config = Path.Combine(dir, ShapesDetectorConfig.FolderName, "config.json");
            string good = File.ReadAllText(config);
            File.WriteAllText(config, good.Replace("\"mirror\": false", "\"mirror\": true").Replace("\"order_by_confidence\": false", "\"order_by_confidence\": true"));
            using (var flags = ShapesDetector.LoadFrom(dir)!) Assert.True(flags.Config.Mirror && flags.Config.OrderByConfidence);
            File.WriteAllText(config, string.Join("\n", good.Split('\n').Where(l => !l.Contains("mirror") && !l.Contains("order_by_confidence"))));
            using (var older = ShapesDetector.LoadFrom(dir)!) Assert.False(older.Config.Mirror || older.Config.OrderByConfidence);
            File.WriteAllText(config, good.Replace("\"threshold\": 0.4", "\"threshold\": 1.5"));
            e = Assert.Throws<NextStepException>(() => ShapesDetector.LoadFrom(dir));
            Assert.Contains("config.json", e.Message);
            Assert.Contains("threshold between 0 and 1 (got 1.5)", e.Message);

            File.WriteAllText(config, good.Replace("\"model_type\": \"nextstep_shapes_detector\"", "\"model_type\": \"nextstep\""));
            e = Assert.Throws<NextStepException>(() => ShapesDetector.LoadFrom(dir));
            Assert.Contains("model_type \"nextstep\" is not a Shapes detector", e.Message);

            using (var wider = new ShapesDetector(Small with { Channels = [16, 16, 16, 32] })) wider.Save(Path.Combine(dir, "wider"));
            File.Copy(Path.Combine(dir, "wider", "model.safetensors"), Path.Combine(dir, ShapesDetectorConfig.FolderName, "model.safetensors"), true);
            File.WriteAllText(config, good);
            e = Assert.Throws<NextStepException>(() => ShapesDetector.LoadFrom(dir));
            Assert.Contains("model.safetensors", e.Message);
            Assert.Matches("\"[a-z_.0-9]+\" has shape \\[[0-9, ]+\\], expected \\[[0-9, ]+\\]", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
