using NextStep.Imaging;
using NextStep.Model;
using NextStep.Pipeline;
using NextStep.Tests.Support;
using NextStep.Tokenization;
using NextStep.Training;
using NextStep.Training.Shapes;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NextStep.Tests.Pipeline;

/// <summary>The model's own caption likelihood after an image, and best-of-K generation built on it.</summary>
[Collection(GlobalRngCollection.Name)]
public class CaptionScorerTests(ITestOutputHelper output)
{
    /// <summary>
    /// The score is the summed training cross-entropy of the caption and EOS in the drop-text sequence, computed here by
    /// the loss code that the official training goldens check (Losses.TextCrossEntropy), with every label before EOI ignored.
    /// </summary>
    [Fact]
    public void ScoreIsMinusTheTrainingCrossEntropyOfTheCaptionAfterTheImage()
    {
        using var scope = NewDisposeScope();
        using var model = NextStepModel.Load(Fixtures.TinyModel);
        var tokenizer = Qwen2Tokenizer.Load(Fixtures.TinyModel);
        var c = model.Config;
        var grid = new TokenGrid(2, 2);
        using var g = new Generator(7);
        var tokens = randn([3, grid.Count, c.TokenDim], generator: g);
        const string caption = "a red circle above a blue square";
        var scores = new CaptionScorer(model, tokenizer).Score(caption, tokens, grid);

        var sample = new SequenceBuilder(tokenizer, c.Boi, c.Eoi, c.ImagePlaceholderId).TextToImage(caption, 0, grid, imageFirst: true);
        int eoi = Array.IndexOf(sample.InputIds, c.Eoi);
        var labels = sample.Labels.Select((l, j) => j <= eoi ? (int)Losses.IgnoreIndex : l).ToArray();
        int counted = labels.Count(l => l != Losses.IgnoreIndex);
        Assert.Equal(sample.InputIds.Length - eoi - 1, counted);
        var ids = tensor(sample.InputIds.Select(i => (long)i).ToArray()).unsqueeze(0);
        for (int k = 0; k < 3; k++)
        {
            var hidden = model.Forward(model.Embed(ids, tokens[k]), null, null);
            var ce = Losses.TextCrossEntropy(hidden, tensor(labels).unsqueeze(0), Losses.FmConditionMask(ids, c.ImagePlaceholderId), model.Logits);
            double expected = -ce.item<float>() * counted;
            Assert.InRange(scores[k].item<float>() - expected, -1e-4 * Math.Abs(expected), 1e-4 * Math.Abs(expected));
        }
    }

    /// <summary>
    /// With <c>noise_strength</c> in the config the score reads noised copies of the image, as training did: the mean
    /// of the plain score over <see cref="CaptionScorer.NoiseDraws"/> draws of the official input noise, the same draws for a seed.
    /// </summary>
    [Fact]
    public void WithTrainingInputNoiseTheScoreIsTheMeanOverNoisedCopies()
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("noised-scorer-").FullName;
        try
        {
            Fixtures.CopyTinyModelFiles(dir, config => config["noise_strength"] = 1.0);
            using var model = NextStepModel.Load(dir);
            var scorer = new CaptionScorer(model, Qwen2Tokenizer.Load(dir), seed: 11);
            var grid = new TokenGrid(2, 2);
            using var g = new Generator(3);
            var tokens = randn([2, grid.Count, model.Config.TokenDim], generator: g);
            var score = scorer.Score("a red circle", tokens, grid);

            using var draws = new Generator(11);
            var latents = model.Unpatchify(tokens, 2, 2).unbind(0);
            var expected = zeros(2);
            for (int d = 0; d < CaptionScorer.NoiseDraws; d++)
                expected += scorer.ScoreAsIs("a red circle", model.Patchify(stack(Losses.InputNoise(latents, 1.0, draws).ToArray())), grid);
            TensorAssert.Close(expected / CaptionScorer.NoiseDraws, score, atol: 1e-4, what: "mean over noised copies");
            TensorAssert.Close(score, scorer.Score("a red circle", tokens, grid), atol: 0, what: "same seed, same draws");
            Assert.True((score - scorer.ScoreAsIs("a red circle", tokens, grid)).abs().max().item<float>() > 1e-3, "the noise changes the score");
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// The premise of best-of-K on the default model: for a fixed caption, the renderer's image of that caption (through
    /// the model's VAE encoder) scores above the image of another prompt of the same category.
    /// </summary>
    [Fact]
    public void DefaultModelPrefersTheImageOfItsOwnCaption()
    {
        using var scope = NewDisposeScope();
        using var pipeline = NextStepPipeline.Load(Fixtures.DefaultModel);
        var prompts = ShapesEval.Prompts(heldOut: false);
        var render = ShapesEval.GroundTruth(prompts, 64);
        var scorer = new CaptionScorer(pipeline.Model, pipeline.Tokenizer);
        Tensor Tokens(ShapesPrompt p)
        {
            var (mean, _) = pipeline.Vae.EncodeMoments(Trainer.Pixels(render(p.Caption, 0)).unsqueeze(0));
            return pipeline.Model.Patchify(pipeline.Vae.NormalizeLatents(mean));
        }
        int wins = 0, total = 0;
        foreach (var group in prompts.GroupBy(p => p.Spec.Category))
        {
            var list = group.ToList();
            for (int i = 0; i < list.Count; i++)
            {
                var other = list[(i + 1) % list.Count];
                var pair = cat([Tokens(list[i]), Tokens(other)], 0);
                var s = scorer.Score(list[i].Caption, pair, new TokenGrid(4, 4));
                if (s[0].item<float>() > s[1].item<float>()) wins++;
                total++;
            }
        }
        output.WriteLine($"own image preferred in {wins} of {total}");
        Assert.InRange(wins, (int)(0.9 * total), total);
    }

    /// <summary>
    /// Best of K samples K·n rows in one batch and keeps, of each run of K, the row whose decoded 8-bit image the
    /// scorer rates highest once read back through the VAE encoder (posterior mean, normalised, patchified here).
    /// </summary>
    [Fact]
    public void BestOfKKeepsTheCandidateWhosePictureTheScorerRatesHighest()
    {
        using var scope = NewDisposeScope();
        using var pipeline = NextStepPipeline.Load(Fixtures.TinyModel);
        var request = new GenerationRequest { Captions = ["a red circle"], Height = 32, Width = 32, NumSamplingSteps = 2, Cfg = 2, Seed = 3 };
        using var all = pipeline.Run(request with { NumImagesPerCaption = 4 });
        var tokenScorer = new CaptionScorer(pipeline.Model, pipeline.Tokenizer, seed: 3);
        var grid = new TokenGrid(2, 2);
        var keep = new[] { 0, 2 }.Select(first =>
        {
            var pixels = stack(all.Images.Skip(first).Take(2).Select(im => PixelTensors.FromUInt8(NextStepPipeline.ToTensor(im))).ToArray());
            var (mean, _) = pipeline.Vae.EncodeMoments(pixels);
            var readBack = pipeline.Model.Patchify(pipeline.Vae.NormalizeLatents(mean));
            return first + (int)tokenScorer.Score("a red circle", readBack, grid).argmax().item<long>();
        }).ToArray();
        using var best = pipeline.Run(request with { NumImagesPerCaption = 2, Candidates = 2 });
        Assert.Equal(2, best.Images.Count);
        TensorAssert.Close(stack(keep.Select(i => all.Tokens[i]).ToArray()), best.Tokens, atol: 0, what: "kept tokens");
        for (int i = 0; i < 2; i++) Assert.Equal(all.Images[keep[i]].Rgb, best.Images[i].Rgb);
        TensorAssert.Close(stack(keep.Select(i => all.Pixels[i]).ToArray()), best.Pixels, atol: 0, what: "kept pixels");
        Assert.NotEqual(all.Tokens[1].data<float>().ToArray(), all.Tokens[0].data<float>().ToArray());
    }

    [Fact]
    public void ScoringImagesNeedsAVae()
    {
        using var pipeline = NextStepPipeline.Load(Fixtures.TinyModel);
        var scorer = new CaptionScorer(pipeline.Model, pipeline.Tokenizer);
        var e = Assert.Throws<NextStepException>(() => scorer.ScoreImages("a red circle", [new RgbImage(32, 32, new byte[32 * 32 * 3])], new TokenGrid(2, 2)));
        Assert.Contains("without a VAE", e.Message);
    }

    [Fact]
    public void CandidatesAreCheckedByName()
    {
        var request = new GenerationRequest { Captions = ["a"], Height = 32, Width = 32, Candidates = 0 };
        Assert.Contains("candidates = 0", Assert.Throws<NextStepException>(() => request.Validate(16, PipelineVariant.HF)).Message);
        var edit = request with { Captions = ["<image>a"], Images = [new RgbImage(32, 32, new byte[32 * 32 * 3])], Candidates = 2 };
        Assert.Contains("text-to-image only", Assert.Throws<NextStepException>(() => edit.Validate(16, PipelineVariant.HF)).Message);
    }
}
