using NextStep.Model;
using NextStep.Pipeline;
using NextStep.Tests.Support;
using NextStep.Tokenization;
using NextStep.Training;
using NextStep.Training.Shapes;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Pipeline;

/// <summary>The match head (<c>judge/</c>): what it reads, how best-of-K weighs it, loading and training.</summary>
[Collection(GlobalRngCollection.Name)]
public class MatchHeadTests
{
    /// <summary>
    /// With a head, a candidate's score is z(caption log-likelihood) + z(head logit) across the K candidates. The
    /// head's logit is recomputed here from the trainer's batched, right-padded features, with a longer caption in
    /// the same batch: the judge reads at inference exactly what training showed it, padding included.
    /// </summary>
    [Fact]
    public void ScoreWithAHeadIsTheSumOfTheTwoZScoresOfWhatTrainingReads()
    {
        using var scope = NewDisposeScope();
        using var model = NextStepModel.Load(Fixtures.TinyModel);
        var tokenizer = Qwen2Tokenizer.Load(Fixtures.TinyModel);
        var c = model.Config;
        var grid = new TokenGrid(2, 2);
        torch.manual_seed(5);
        using var head = new MatchHead(new MatchHeadConfig(c.HiddenSize + 1));
        head.eval();
        using var g = new Generator(7);
        var tokens = randn([3, grid.Count, c.TokenDim], generator: g);
        const string caption = "a red circle", longer = "a picture of a red circle above a blue square on a white background";
        var plain = new CaptionScorer(model, tokenizer).Score(caption, tokens, grid);
        var judged = new CaptionScorer(model, tokenizer, head: head).Score(caption, tokens, grid);

        var sequences = new SequenceBuilder(tokenizer, c.Boi, c.Eoi, c.ImagePlaceholderId);
        var latents = model.Unpatchify(tokens, 2, 2);
        var logits = new float[3];
        for (int k = 0; k < 3; k++)
        {
            var pair = stack([latents[k], latents[(k + 1) % 3]]);
            var (features, valid) = MatchHeadTrainer.Features(model, sequences, grid, [caption, longer], pair, new Generator(1));
            Assert.True(valid[0].sum().item<long>() < valid[1].sum().item<long>(), "the first row is the padded one");
            logits[k] = head.Forward(features, valid)[0].item<float>();
        }
        static double[] Z(double[] x) { double m = x.Average(), s = Math.Sqrt(x.Average(v => (v - m) * (v - m))); return [.. x.Select(v => (v - m) / (s + 1e-6))]; }
        var zPlain = Z([.. plain.data<float>().Select(v => (double)v)]);
        var zHead = Z([.. logits.Select(v => (double)v)]);
        for (int k = 0; k < 3; k++)
            Assert.InRange(judged[k].item<float>() - (zPlain[k] + zHead[k]), -1e-3, 1e-3);
    }

    [Fact]
    public void SavedHeadLoadsBackAndBadFilesAreNamed()
    {
        var dir = Directory.CreateTempSubdirectory("match-head-").FullName;
        try
        {
            torch.manual_seed(3);
            using var head = new MatchHead(new MatchHeadConfig(65, HiddenSize: 16, NumLayers: 1, NumHeads: 2, MaxPositions: 40));
            head.Save(Path.Combine(dir, MatchHeadConfig.FolderName));
            using var back = MatchHead.LoadFrom(dir)!;
            Assert.Equal(head.Config, back.Config);
            using var x = randn(2, 10, 65);
            head.eval();
            TensorAssert.Close(head.forward(x), back.forward(x), atol: 0, what: "loaded head");
            Assert.Null(MatchHead.LoadFrom(Path.Combine(dir, "nowhere")));

            var e = Assert.Throws<NextStepException>(() => back.forward(randn(1, 41, 65)));
            Assert.Contains("41 positions exceeds its 40 (max_positions)", e.Message);

            var config = Path.Combine(dir, MatchHeadConfig.FolderName, "config.json");
            File.WriteAllText(config, File.ReadAllText(config).Replace("\"num_heads\": 2", "\"num_heads\": 3"));
            e = Assert.Throws<NextStepException>(() => MatchHead.LoadFrom(dir));
            Assert.Contains("config.json", e.Message);
            Assert.Contains("divisible by num_heads (3)", e.Message);

            File.WriteAllText(config, File.ReadAllText(config).Replace("\"num_heads\": 3", "\"num_heads\": 2").Replace("\"hidden_size\": 16", "\"hidden_size\": 32"));
            e = Assert.Throws<NextStepException>(() => MatchHead.LoadFrom(dir));
            Assert.Contains("model.safetensors", e.Message);
            Assert.Matches("\"[a-z_.0-9]+\" has shape \\[[0-9, ]+\\], expected \\[[0-9, ]+\\]", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void PipelineRefusesAHeadOfAnotherModelSize()
    {
        var dir = Directory.CreateTempSubdirectory("match-head-model-").FullName;
        try
        {
            Fixtures.CopyTinyModelFiles(dir);
            using (var head = new MatchHead(new MatchHeadConfig(33))) head.Save(Path.Combine(dir, MatchHeadConfig.FolderName));
            var e = Assert.Throws<NextStepException>(() => NextStepPipeline.Load(dir));
            Assert.Contains("input_size 33 does not fit this model (expected hidden_size + 1 = 65)", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>Near misses never leave the train split, and (by the renderer's ground truth) almost never still fit the scene.</summary>
    [Fact]
    public void NearMissesStayInTheTrainSplitAndMissTheScene()
    {
        var rng = new Random(4);
        int stillTrue = 0, same = 0;
        const int n = 400;
        for (int i = 0; i < n; i++)
        {
            var (scene, miss) = ShapesNearMiss.Pair(rng);
            Assert.True(ShapesSplits.Accepts(ShapesSplit.Train, scene) && ShapesSplits.Accepts(ShapesSplit.Train, miss), $"pair {i} left the train split");
            Assert.False(ShapesSplits.ClaimsHeldOut(miss.Spec));
            Assert.True(ShapesJudge.Judge(miss.Spec, miss).Correct, $"pair {i}: the near miss's own picture must fit its caption \"{miss.Caption}\"");
            if (ReferenceEquals(scene, miss)) same++;
            else if (ShapesJudge.Judge(miss.Spec, scene).Correct) stillTrue++;
        }
        Assert.True(same <= n / 100, $"{same} of {n} scenes found no near miss");
        Assert.True(stillTrue <= n / 10, $"{stillTrue} of {n} near-miss captions still fit the original scene");
    }

    /// <summary>A few dozen steps on a small pool: the head's loss falls.</summary>
    [Fact]
    public void TrainingLowersTheLoss()
    {
        using var pipeline = NextStepPipeline.Load(Fixtures.DefaultModel);
        var losses = new List<double>();
        var options = new MatchHeadTrainingOptions { Steps = 60, PoolPairs = 24, PairsPerStep = 8, WarmupSteps = 5, LearningRate = 2e-3, Seed = 2 };
        using var head = MatchHeadTrainer.Train(pipeline.Model, pipeline.Vae, pipeline.Tokenizer, options, (_, loss, _) => losses.Add(loss));
        Assert.Equal(60, losses.Count);
        double first = losses.Take(15).Average(), last = losses.Skip(45).Average();
        Assert.True(last < first - 0.05, $"BCE went from {first:F3} (first 15 steps) to {last:F3} (last 15)");
    }
}
