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
    public void TrainDefaultRefusesASizeForAContinuedRun()
    {
        var dir = Directory.CreateTempSubdirectory("train-default-").FullName;
        try
        {
            string model = global::NextStep.Pipeline.DefaultModel.PathOrNull()!;
            var stderr = new StringWriter();
            int rc = NextStep.Cli.CliApp.Run(["train-default", "--vae", Path.Combine(model, "vae"), "--tokenizer", model, "--out", dir,
                "--init", model, "--size", "32,2,2,1,64,32,1", "--steps", "1"], new StringWriter(), stderr);
            Assert.Equal(1, rc);
            Assert.Contains("--size and --init", stderr.ToString());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void LatentCacheRoundTripsAndRefusesAMismatch()
    {
        var dir = Directory.CreateTempSubdirectory("latents-").FullName;
        try
        {
            using var data = new LatentDataset(["a red circle", "two blue squares"], torch.randn(2, 16, 8, 8), torch.rand(2, 16, 8, 8));
            data.Save(dir);
            using var back = LatentDataset.Load(dir);
            Assert.Equal(data.Captions, back.Captions);
            Assert.True(data.Mean.allclose(back.Mean, 0, 0) && data.Std.allclose(back.Std, 0, 0));

            File.WriteAllText(Path.Combine(dir, "captions.json"), "[\"only one\"]");
            Assert.Contains("latents.safetensors", Assert.Throws<NextStepException>(() => LatentDataset.Load(dir)).Message);
            File.WriteAllText(Path.Combine(dir, "captions.json"), "{\"not\": \"a list\"}");
            Assert.Contains("captions.json", Assert.Throws<NextStepException>(() => LatentDataset.Load(dir)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ShortRunLowersTheLossAndSavesALoadableModel()
    {
        var dir = Directory.CreateTempSubdirectory("default-model-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), DefaultModelRecipe.ConfigJson(Tiny).ToJsonString());
            foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
                File.Copy(Path.Combine(global::NextStep.Pipeline.DefaultModel.PathOrNull()!, file), Path.Combine(dir, file));
            var config = NextStepConfig.Load(Path.Combine(dir, "config.json"));
            var tokenizer = Qwen2Tokenizer.Load(dir);
            // Eight scenes with fixed latents near a common value: a run of a few dozen steps must start fitting them.
            var captions = Enumerable.Range(0, 8).Select(i => ShapesDataset.Scene(1, i, ShapesSplit.Train).Caption).ToList();
            torch.manual_seed(5);
            using var data = new LatentDataset(captions, torch.randn(8, 16, 8, 8) * 0.1 + 0.8, torch.full(8, 16, 8, 8, 0.01f));
            var vae = VaeTrainer.SmallConfig;
            using var model = DefaultModelRecipe.Initialise(config, seed: 3);
            int saves = 0;
            var run = DefaultModelRecipe.Train(model, tokenizer, vae, data,
                new DefaultModelOptions { Steps = 40, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 5, SaveEvery = 20, Seed = 1 },
                checkpoint: _ => saves++);
            Assert.Equal(40, run.Losses.Count);
            Assert.Equal(2, saves);
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
