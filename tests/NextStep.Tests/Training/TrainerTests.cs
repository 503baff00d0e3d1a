using NextStep.Model;
using NextStep.Tests.Support;
using NextStep.Training;
using NextStep.Training.Shapes;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

/// <summary>The training loop on the tiny checkpoint: learning, checkpoints, bit-exact resume and bad data.</summary>
[Collection("Trainer")] // these runs set torch's thread count: never two at once
public class TrainerTests
{
    private static TrainOptions Tiny(string output, int steps) => new()
    {
        ModelDir = Fixtures.TinyModel, ShapesCount = 6, ImageSize = 64, RowLength = 80, BatchSize = 1,
        OutDir = output, Steps = steps, Lr = 2e-3, Seed = 7, LogEvery = 1000, Threads = 1,
    };

    private static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "nextstep-train-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact]
    public void LossFallsAndTheCheckpointLoadsForInference()
    {
        string dir = TempDir();
        try
        {
            var log = new List<string>();
            var result = new Trainer(Tiny(dir, 30) with { GradAccum = 2, BatchSize = 2 }, log.Add).Run();
            Assert.Equal(30, result.Losses.Count);
            double first = result.Losses.Take(5).Average(), last = result.Losses.TakeLast(5).Average();
            Assert.True(last < 0.8 * first, $"loss did not fall: first 5 steps {first:F4}, last 5 {last:F4}");
            Assert.Contains(log, l => l.StartsWith("step 30/30") && l.Contains("steps/s") && l.Contains("ETA"));
            foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vae/config.json", "vae/checkpoint.pt" })
                Assert.True(File.Exists(Path.Combine(result.LastCheckpoint, f)), f);
            using var model = NextStepModel.Load(result.LastCheckpoint);
            Assert.Equal(64, model.Config.HiddenSize);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ResumingContinuesBitForBit()
    {
        string dir = TempDir();
        try
        {
            var straight = new Trainer(Tiny(Path.Combine(dir, "a"), 4), _ => { }).Run();
            var half = new Trainer(Tiny(Path.Combine(dir, "b"), 2), _ => { }).Run();
            var rest = new Trainer(Tiny(Path.Combine(dir, "b"), 4) with { ModelDir = null, ResumeDir = half.LastCheckpoint }, _ => { }).Run();
            Assert.Equal(straight.Losses, half.Losses.Concat(rest.Losses));
            using var a = SafeTensorsFileOf(straight.LastCheckpoint);
            using var b = SafeTensorsFileOf(rest.LastCheckpoint);
            foreach (var name in a.Tensors.Keys)
            {
                using var x = a.Load(name);
                using var y = b.Load(name);
                Assert.True(x.equal(y).all().item<bool>(), $"{name} differs after resume");
            }
            var mismatch = Tiny(Path.Combine(dir, "c"), 4) with { ModelDir = null, ResumeDir = half.LastCheckpoint, Seed = 8 };
            var e = Assert.Throws<NextStepException>(() => new Trainer(mismatch, _ => { }).Run());
            Assert.Contains("--seed", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void FreshModelFromAConfigTrains()
    {
        string dir = TempDir();
        try
        {
            var options = Tiny(dir, 3) with { ModelDir = null, ConfigPath = Path.Combine(Fixtures.TinyModel, "config.json") };
            var result = new Trainer(options, _ => { }).Run();
            Assert.All(result.Losses, l => Assert.True(double.IsFinite(l)));
            // zero-initialised head output: v̂ = 0 at the first step, so the image loss is E[(x1 − ε)²] ≈ 1 + E[x1²]
            Assert.InRange(result.Losses[0], 0.5, 20);
            using var model = NextStepModel.Load(result.LastCheckpoint);
            var embed = model.named_parameters().First(p => p.name == "embed_tokens.weight").parameter;
            Assert.Equal(0f, embed[1046].abs().max().item<float>());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AspectBucketsMatchTheOfficialTableAt64Pixels()
    {
        var expected = TrainingGoldens.Cases.GetProperty("settings").GetProperty("image_seq_len").EnumerateObject().Select(p => p.Name).Order().ToList();
        var actual = NextStep.Pipeline.Presets.HwAspectRatios
            .Select(a => TrainingData.Bucket(a.W * 16, a.H * 16, 64)).Select(b => $"{b.Height / 16}*{b.Width / 16}").Distinct().Order().ToList();
        Assert.Equal(expected, actual);
        Assert.Equal((32, 128), TrainingData.Bucket(400, 100, 64));
        Assert.Equal((256, 256), TrainingData.Bucket(300, 310, 256));
    }

    [Fact]
    public void MultiAspectFolderTrainsWithOneBucketPerBatch()
    {
        string dir = TempDir();
        try
        {
            string data = Path.Combine(dir, "data");
            Directory.CreateDirectory(data);
            for (int i = 0; i < 4; i++)
            {
                var scene = ShapesSampler.Sample(10 + i);
                bool wide = i % 2 == 0;
                ShapesImages.SavePng(ShapesRenderer.Render(scene, wide ? 160 : 64, wide ? 40 : 64), Path.Combine(data, $"img{i}.png"));
                File.WriteAllText(Path.Combine(data, $"img{i}.txt"), scene.Caption);
            }
            var log = new List<string>();
            var options = Tiny(Path.Combine(dir, "out"), 3) with { ShapesCount = 0, DataDir = data, MultiAspect = true, BatchSize = 1, RowLength = 0 };
            var result = new Trainer(options, log.Add).Run();
            Assert.All(result.Losses, l => Assert.True(double.IsFinite(l)));
            Assert.Contains(log, l => l.Contains("2 at 128x32") && l.Contains("2 at 64x64"));
        }
        finally { Directory.Delete(dir, true); }
    }

    private static NextStep.Loading.SafeTensorsFile SafeTensorsFileOf(string checkpoint) =>
        NextStep.Loading.SafeTensorsFile.Open(Path.Combine(checkpoint, "model.safetensors"));

    [Fact]
    public void BadDataIsReportedWithTheFileNameAndSkippedOrRefused()
    {
        string dir = TempDir();
        try
        {
            var good = ShapesRenderer.Render(ShapesSampler.Sample(1), 64, 64);
            ShapesImages.SavePng(good, Path.Combine(dir, "good.png"));
            File.WriteAllText(Path.Combine(dir, "good.txt"), "a shape");
            ShapesImages.SavePng(good, Path.Combine(dir, "nocaption.png"));
            File.WriteAllBytes(Path.Combine(dir, "broken.png"), [1, 2, 3, 4]);
            File.WriteAllText(Path.Combine(dir, "broken.txt"), "broken");
            ShapesImages.SavePng(ShapesRenderer.Render(ShapesSampler.Sample(2), 32, 32), Path.Combine(dir, "small.png"));
            File.WriteAllText(Path.Combine(dir, "small.txt"), "too small");
            var reports = new List<string>();
            var examples = TrainingData.FromFolder(dir, 64, strict: false, reports.Add);
            Assert.Equal("good.png", Assert.Single(examples).Source);
            Assert.Contains(reports, r => r.Contains("nocaption.png") && r.Contains("no caption"));
            Assert.Contains(reports, r => r.Contains("broken.png") && r.Contains("not a readable image"));
            Assert.Contains(reports, r => r.Contains("small.png") && r.Contains("smaller than the training size"));
            Assert.Throws<NextStepException>(() => TrainingData.FromFolder(dir, 64, strict: true, _ => { }));
        }
        finally { Directory.Delete(dir, true); }
    }
}
