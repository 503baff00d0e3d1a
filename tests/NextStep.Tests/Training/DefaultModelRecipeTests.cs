using NextStep.Config;
using NextStep.Model;
using NextStep.Tokenization;
using NextStep.Training;
using NextStep.Training.Shapes;
using TorchSharp;
using Xunit;

namespace NextStep.Tests.Training;

/// <summary>The recipe that trains models/default: sizes, the latent cache and a short run at a tiny size.</summary>
[Collection(Support.GlobalRngCollection.Name)]
public class DefaultModelRecipeTests
{
    private static readonly DefaultModelSize Tiny = new(32, 2, 2, 1, 64, 32, 1);

    [Fact]
    public void SizeParsesAndBadSizesNameTheValue()
    {
        Assert.Equal(Tiny, DefaultModelSize.Parse("32,2,2,1,64,32,1"));
        Assert.Contains("7 positive integers", Assert.Throws<NextStepException>(() => DefaultModelSize.Parse("32,2,2")).Message);
        Assert.Contains("\"30,2,4,2,64,32,1\"", Assert.Throws<NextStepException>(() => DefaultModelSize.Parse("30,2,4,2,64,32,1")).Message);
        var json = DefaultModelRecipe.ConfigJson(Tiny);
        Assert.Equal(32, (int)json["hidden_size"]!);
        Assert.Equal(16, (int)json["head_dim"]!);
        Assert.Equal(32, (int)json["fm_head_dim"]!);
    }

    [Fact]
    public void LearningRateWarmsUpLinearlyThenFollowsACosineToATenth()
    {
        var o = new DefaultModelOptions { LearningRate = 1e-3, WarmupSteps = 50 };
        Assert.Equal(1e-3 / 50, DefaultModelRecipe.LearningRate(o, 0, 0), 12);
        Assert.Equal(1e-3 * 25 / 50, DefaultModelRecipe.LearningRate(o, 24, 0.3), 12);
        Assert.Equal(1e-3, DefaultModelRecipe.LearningRate(o, 50, 0), 12);
        Assert.Equal(0.55e-3, DefaultModelRecipe.LearningRate(o, 500, 0.5), 12);  // halfway: 0.1 + 0.45·(1 + cos π/2)
        Assert.Equal(0.1e-3, DefaultModelRecipe.LearningRate(o, 900, 1.0), 12);
    }

    [Fact]
    public void TrainDefaultLogsLossLearningRateSpeedAndEta()
    {
        var (rc, stdout, _) = TrainDefault(dir => ["--out", Path.Combine(dir, "m"), "--images", "8", "--batch", "2", "--steps", "2", "--lr", "1e-3", "--log-every", "1"]);
        Assert.Equal(0, rc);
        // Warm-up of 50 steps: step 1 runs at 1/50 of the peak rate, step 2 at 2/50.
        Assert.Matches(@"step 1  loss \d+\.\d{4}  ce \d+\.\d{3}  fm \d+\.\d{4}  lr 2\.00E-005  \d+\.\d\d steps/s  ETA \d\d:\d\d:\d\d", stdout);
        Assert.Contains("lr 4.00E-005", stdout);
    }

    [Fact]
    public void TrainDefaultTrainsWithSelfInputsAndRefusesBadOnes()
    {
        var (rc, stdout, stderr) = TrainDefault(dir => ["--out", Path.Combine(dir, "m"), "--images", "8", "--batch", "2", "--steps", "1", "--log-every", "1",
            "--self-inputs", "0.5", "--self-input-steps", "2", "--self-input-start", "0.5"]);
        Assert.True(rc == 0, stderr);
        Assert.Contains("self inputs: each input image token is the model's own sample of it with probability 0.5 (2 Euler steps from t = 0.5)", stdout);
        Assert.Contains("trained 1 steps", stdout);
        (rc, _, stderr) = TrainDefault(dir => ["--out", Path.Combine(dir, "m"), "--images", "8", "--steps", "1", "--self-inputs", "2"]);
        Assert.Equal(1, rc);
        Assert.Contains("--self-inputs 2 --self-input-steps 8 --self-input-start 0: probability 2 must be between 0 and 1", stderr);
    }

    [Fact]
    public void TrainDefaultRefusesASizeForAContinuedRun()
    {
        var (rc, _, stderr) = TrainDefault(dir => ["--out", dir, "--size", "32,2,2,1,64,32,1", "--steps", "1"]);
        Assert.Equal(1, rc);
        Assert.Contains("--size and --init", stderr);
    }

    /// <summary>Runs <c>train-default</c> from models/default (its VAE, tokenizer and weights) with the given options in a temporary folder.</summary>
    private static (int Rc, string Stdout, string Stderr) TrainDefault(Func<string, string[]> options)
    {
        var dir = Directory.CreateTempSubdirectory("train-default-").FullName;
        try
        {
            string model = global::NextStep.Pipeline.DefaultModel.PathOrNull()!;
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            int rc = NextStep.Cli.CliApp.Run(["train-default", "--vae", Path.Combine(model, "vae"), "--tokenizer", model, "--init", model, .. options(dir)], stdout, stderr);
            return (rc, stdout.ToString(), stderr.ToString());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void EncodingFromAFirstSceneGivesThoseScenesOfTheTrainSplit()
    {
        string model = global::NextStep.Pipeline.DefaultModel.PathOrNull()!;
        using var vae = AutoencoderKL.Load(Path.Combine(model, "vae"));
        using var all = DefaultModelRecipe.EncodeShapes(vae, 1, 5, batch: 2);
        using var tail = DefaultModelRecipe.EncodeShapes(vae, 1, 2, batch: 2, first: 3);
        Assert.Equal(all.Captions.Skip(3), tail.Captions);
        Assert.Equal(ShapesDataset.Scene(1, 4, ShapesSplit.Train).Caption, tail.Captions[1]);
        using var mean = all.Mean.narrow(0, 3, 2);
        using var std = all.Std.narrow(0, 3, 2);
        // Every norm in the encoder is per image, so the batch a scene lands in changes only the last bits.
        Assert.True(mean.allclose(tail.Mean, 1e-5, 1e-5) && std.allclose(tail.Std, 1e-5, 1e-5));

        var (rc, _, stderr) = TrainDefault(dir => ["--out", dir, "--images", "2", "--first-image", "-1", "--steps", "1"]);
        Assert.Equal(1, rc);
        Assert.Contains("--first-image -1", stderr);
    }

    [Fact]
    public void ACategoryMixChoosesTheEncodedScenesAndABadOneIsNamed()
    {
        var cache = Path.Combine(Directory.CreateTempSubdirectory("latents-").FullName, "cache");
        try
        {
            var (rc, stdout, _) = TrainDefault(dir => ["--out", dir, "--images", "3", "--category-mix", "color_attr=1,single_object=0,two_objects=0,counting=0,colors=0,position=0", "--latents", cache, "--batch", "2", "--steps", "1"]);
            Assert.Equal(0, rc);
            Assert.Contains("category mix: single_object=0,two_objects=0,counting=0,colors=0,position=0,color_attr=1", stdout);
            using var data = LatentDataset.Load(cache);
            var mix = ShapesMix.Parse("color_attr=1,single_object=0,two_objects=0,counting=0,colors=0,position=0");
            var expected = Enumerable.Range(0, 3).Select(i => ShapesDataset.Scene(1, i, ShapesSplit.Train, mix)).ToList();
            Assert.All(expected, s => Assert.Equal(ShapesCategory.ColorAttr, s.Spec.Category));
            Assert.Equal(expected.Select(s => s.Caption), data.Captions);
        }
        finally { Directory.Delete(Path.GetDirectoryName(cache)!, recursive: true); }

        var (rc2, _, stderr) = TrainDefault(dir => ["--out", dir, "--category-mix", "circles=2", "--steps", "1"]);
        Assert.Equal(1, rc2);
        Assert.Contains("--category-mix circles=2: \"circles=2\" is not CATEGORY=WEIGHT", stderr);
    }

    [Fact]
    public void AnExistingLatentCacheIsReadAndSaysThatTheSceneOptionsDoNotApply()
    {
        var cache = Path.Combine(Directory.CreateTempSubdirectory("latents-").FullName, "cache");
        try
        {
            var (rc, first, _) = TrainDefault(dir => ["--out", dir, "--images", "2", "--latents", cache, "--batch", "2", "--steps", "1"]);
            Assert.Equal(0, rc);
            Assert.Contains("encoded 2 images", first);
            Assert.DoesNotContain("note:", first);
            var (rc2, second, _) = TrainDefault(dir => ["--out", dir, "--images", "4", "--first-image", "10", "--latents", cache, "--batch", "2", "--steps", "1"]);
            Assert.Equal(0, rc2);
            Assert.Contains($"read 2 encoded images from {cache}", second);
            Assert.Contains("note: --images, --first-image and --category-mix choose the scenes only when", second);
        }
        finally { Directory.Delete(Path.GetDirectoryName(cache)!, recursive: true); }
    }

    [Fact]
    public void LatentCacheRoundTripsAndRefusesAMismatch()
    {
        var dir = Directory.CreateTempSubdirectory("latents-").FullName;
        try
        {
            using var data = new LatentDataset(["a red circle", "two blue squares"], torch.randn(2, 16, 8, 8), torch.rand(2, 16, 8, 8), "ab12cd34ef56" + new string('0', 52));
            data.Save(dir);
            using var back = LatentDataset.Load(dir);
            Assert.Equal(data.Captions, back.Captions);
            Assert.Equal(data.Encoder, back.Encoder);
            Assert.True(data.Mean.allclose(back.Mean, 0, 0) && data.Std.allclose(back.Std, 0, 0));

            File.WriteAllText(Path.Combine(dir, "captions.json"), "[\"only one\"]");
            Assert.Contains("latents.safetensors", Assert.Throws<NextStepException>(() => LatentDataset.Load(dir)).Message);
            File.WriteAllText(Path.Combine(dir, "captions.json"), "{\"not\": \"a list\"}");
            Assert.Contains("captions.json", Assert.Throws<NextStepException>(() => LatentDataset.Load(dir)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void LatentCacheRefusesAnotherEncoderAndIgnoresDecoderChanges()
    {
        using var vae = AutoencoderKL.Load(Path.Combine(global::NextStep.Pipeline.DefaultModel.PathOrNull()!, "vae"));
        string fingerprint = vae.EncoderFingerprint();
        Assert.Matches("^[0-9a-f]{64}$", fingerprint);
        using var same = new LatentDataset(["a red circle"], torch.zeros(1, 16, 8, 8), torch.ones(1, 16, 8, 8), fingerprint);
        Assert.True(same.CheckEncoder(vae, "cache"));
        using var unknown = new LatentDataset(["a red circle"], torch.zeros(1, 16, 8, 8), torch.ones(1, 16, 8, 8));
        Assert.False(unknown.CheckEncoder(vae, "cache"));

        var parameters = vae.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var one = torch.ones(1);
        using (torch.no_grad()) parameters.First(p => p.Key.StartsWith("decoder.")).Value.add_(one);
        Assert.Equal(fingerprint, vae.EncoderFingerprint());
        using var nudge = torch.tensor(1e-3f);
        using (torch.no_grad()) parameters.First(p => p.Key.StartsWith("encoder.")).Value.view(-1)[0].add_(nudge);
        string changed = vae.EncoderFingerprint();
        Assert.NotEqual(fingerprint, changed);
        var error = Assert.Throws<NextStepException>(() => same.CheckEncoder(vae, "cache"));
        Assert.Contains("cache/latents.safetensors", error.Message);
        Assert.Contains(fingerprint[..12], error.Message);
        Assert.Contains(changed[..12], error.Message);
    }

    [Fact]
    public void WeightAverageFollowsTheDecayFormula()
    {
        using var layer = torch.nn.Linear(1, 1, hasBias: false);
        var w = layer.parameters().Single();
        using var two = torch.tensor(2f);
        using (torch.no_grad()) w.copy_(two);
        using var average = new WeightAverage(layer, 0.3);
        // Update n uses d = min(0.3, (1 + n) / (10 + n)): 0.1, 2/11, 3/12, then 0.3 (4/13 > 0.3)
        double expected = 2.0;
        foreach (var (value, d) in new[] { (4.0, 0.1), (6.0, 2.0 / 11), (0.0, 0.25), (1.0, 0.3), (3.0, 0.3), (5.0, 0.3), (-1.0, 0.3) })
        {
            using (torch.no_grad()) w.fill_(value);
            Assert.Equal(d, average.NextDecay, 12);
            average.Update();
            expected = d * expected + (1 - d) * value;
            Assert.Equal(expected, average.Weights.Single().Value.item<float>(), 5);
        }
        Assert.Equal(-1.0, w.item<float>(), 6);
        average.CopyToModule();
        Assert.Equal(expected, w.item<float>(), 5);
        Assert.Throws<NextStepException>(() => new WeightAverage(layer, 1.0));
    }

    /// <summary>Writes the tiny config and the default model's tokenizer files to <paramref name="dir"/>.</summary>
    private static (NextStepConfig Config, Qwen2Tokenizer Tokenizer) TinyFolder(string dir)
    {
        File.WriteAllText(Path.Combine(dir, "config.json"), DefaultModelRecipe.ConfigJson(Tiny).ToJsonString());
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(global::NextStep.Pipeline.DefaultModel.PathOrNull()!, file), Path.Combine(dir, file));
        return (NextStepConfig.Load(Path.Combine(dir, "config.json")), Qwen2Tokenizer.Load(dir));
    }

    [Fact]
    public void MovingLatentsToTheirOwnDeviceKeepsTheDataset()
    {
        using var data = EightScenes();
        var moved = data.MoveTo(torch.CPU);
        Assert.Same(data, moved);
        Assert.Equal(8, moved.Mean.shape[0]);
        Assert.Equal(0.01f, moved.Std[0, 0, 0, 0].item<float>());
    }

    /// <summary>Eight scenes with fixed latents near a common value: a run of a few dozen steps must start fitting them.</summary>
    private static LatentDataset EightScenes()
    {
        var captions = Enumerable.Range(0, 8).Select(i => ShapesDataset.Scene(1, i, ShapesSplit.Train).Caption).ToList();
        torch.manual_seed(5);
        return new LatentDataset(captions, torch.randn(8, 16, 8, 8) * 0.1 + 0.8, torch.full(8, 16, 8, 8, 0.01f));
    }

    [Fact]
    public void FrozenPrefixesKeepTheirWeightsWhileTheHeadTrains()
    {
        var dir = Directory.CreateTempSubdirectory("default-model-").FullName;
        try
        {
            var (config, tokenizer) = TinyFolder(dir);
            using var data = EightScenes();
            using var model = DefaultModelRecipe.Initialise(config, seed: 3);
            var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
            string[] frozen = ["embed_tokens", "layers", "norm", "lm_head", "image_in_projector"];
            var run = DefaultModelRecipe.Train(model, tokenizer, VaeTrainer.SmallConfig, data,
                new DefaultModelOptions { Steps = 30, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 5, Seed = 1, Freeze = frozen });
            foreach (var (name, p) in model.named_parameters())
            {
                bool isFrozen = frozen.Any(f => name.StartsWith(f + ".", StringComparison.Ordinal));
                bool same = before[name].allclose(p, 0, 0);
                // Zero-initialised gates may stay zero for a step or two, but every head weight matrix moves in 30 steps.
                if (isFrozen) Assert.True(same, $"{name} is frozen but changed");
                else if (name.EndsWith(".weight") && !name.Contains("adaLN") && !name.Contains("final_layer")) Assert.False(same, $"{name} should train");
            }
            Assert.Contains(model.named_parameters(), p => p.name.StartsWith("image_head.") && !before[p.name].allclose(p.parameter, 0, 0));
            double first = run.Losses.Take(5).Average(l => l.Image), last = run.Losses.TakeLast(5).Average(l => l.Image);
            Assert.True(last < first, $"flow-matching loss went from {first:F4} to {last:F4} with only the head training");

            var unknown = Assert.Throws<NextStepException>(() => DefaultModelRecipe.FreezeParameters(model, ["layer"]));
            Assert.Contains("\"layer\"", unknown.Message);
            Assert.Contains("layers", unknown.Message);
            var all = model.named_parameters().Select(p => p.name.Split('.')[0]).Distinct().ToList();
            Assert.Contains("nothing would train", Assert.Throws<NextStepException>(() => DefaultModelRecipe.FreezeParameters(model, all)).Message);
            foreach (var t in before.Values) t.Dispose();
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ShortRunLowersTheLossAndSavesALoadableModel()
    {
        var dir = Directory.CreateTempSubdirectory("default-model-").FullName;
        try
        {
            var (config, tokenizer) = TinyFolder(dir);
            using var data = EightScenes();
            var vae = VaeTrainer.SmallConfig;
            using var model = DefaultModelRecipe.Initialise(config, seed: 3);
            int saves = 0;
            var lastSaved = new Dictionary<string, torch.Tensor>();
            var reported = new List<DefaultModelStep>();
            var run = DefaultModelRecipe.Train(model, tokenizer, vae, data,
                new DefaultModelOptions { Steps = 40, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 5, SaveEvery = 20, Seed = 1, EmaDecay = 0.9 },
                progress: reported.Add,
                checkpoint: (_, weights) =>
                {
                    saves++;
                    // With EMA the checkpoint holds the averaged weights, not the raw ones being optimised.
                    var raw = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                    Assert.Equal(raw.Keys.Order(), weights.Select(w => w.Key).Order());
                    Assert.Contains(weights, w => !w.Value.allclose(raw[w.Key], 0, 0));
                    foreach (var t in lastSaved.Values) t.Dispose();
                    lastSaved = weights.ToDictionary(w => w.Key, w => w.Value.detach().clone().DetachFromDisposeScope());
                });
            Assert.Equal(40, run.Losses.Count);
            Assert.Equal(Enumerable.Range(1, 40), reported.Select(r => r.Step));
            Assert.Equal(run.Losses.Select(l => l.Loss), reported.Select(r => r.Loss));
            Assert.Equal(3e-3 / 5, reported[0].LearningRate, 12);                                           // warm-up step 1 of 5
            Assert.Equal(3e-3 * (0.1 + 0.45 * (1 + Math.Cos(Math.PI * 39 / 40))), reported[^1].LearningRate, 12); // cosine at 39/40
            Assert.Equal(2, saves);
            foreach (var (name, p) in model.named_parameters())
                Assert.True(lastSaved[name].allclose(p, 0, 0), $"{name}: the trained model must hold the averaged weights of the last checkpoint");
            double first = run.Losses.Take(5).Average(l => l.Loss), last = run.Losses.TakeLast(5).Average(l => l.Loss);
            Assert.True(last < 0.8 * first, $"loss went from {first:F4} to {last:F4}");

            DefaultModelRecipe.Save(model, dir);
            using var loaded = NextStepModel.Load(dir);
            var expected = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in loaded.named_parameters())
                Assert.True(expected[name].allclose(p, 0, 0), $"{name} differs after save and load");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
