using NextStep.Loading;
using NextStep.Tests.Support;
using NextStep.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

/// <summary>The loss formulas on the recorded hidden states (no backbone needed).</summary>
public class LossTests
{
    public static TheoryData<string> Cases => new() { "t2i", "t2i_droptext", "edit", "t2i_wide" };
    private const long Placeholder = 1050;

    [Theory, MemberData(nameof(Cases))]
    public void TextLossFromRecordedHiddenMatches(string c)
    {
        using var scope = NewDisposeScope();
        using var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        var lmHead = ck.Load("lm_head.weight", ScalarType.Float32);
        var ids = TrainingGoldens.Tensor($"{c}.input_ids");
        var mask = Losses.FmConditionMask(ids, Placeholder);
        Assert.True(mask.to_type(ScalarType.Byte).data<byte>().SequenceEqual(TrainingGoldens.Tensor($"{c}.fm_cond_mask").data<byte>()), "fm_cond_mask");
        var ce = Losses.TextCrossEntropy(TrainingGoldens.Tensor($"{c}.hidden"), TrainingGoldens.Tensor($"{c}.labels"), mask, h => h.matmul(lmHead.t()));
        float expected = TrainingGoldens.Scalar($"{c}.lm_loss");
        Assert.InRange(Math.Abs(ce.item<float>() - expected), 0, 2e-6 * expected);
    }

    [Theory, MemberData(nameof(Cases))]
    public void FlowMatchingFromRecordedHiddenMatches(string c)
    {
        using var scope = NewDisposeScope();
        using var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        var w = ck.Load("image_out_projector.weight", ScalarType.Float32);
        var b = ck.Load("image_out_projector.bias", ScalarType.Float32);
        var ids = TrainingGoldens.Tensor($"{c}.input_ids");
        var latents = TrainingGoldens.Tensor($"{c}.latents");
        var filtered = TrainingGoldens.Tensor($"{c}.image_filtered_idx").data<int>().Select(v => v != 0).ToList();
        var tokens = NextStep.Model.NextStepModel.Patchify(latents, 2);
        var perImage = Enumerable.Repeat(tokens.shape[1], (int)tokens.shape[0]).ToList();
        var states = Losses.ConditionStates(TrainingGoldens.Tensor($"{c}.hidden"), Losses.FmConditionMask(ids, Placeholder), perImage);
        var draws = new FlowMatchingDraws(TrainingGoldens.Tensor($"{c}.fm.noise"), TrainingGoldens.Tensor($"{c}.fm.u"));
        var expectedCond = TrainingGoldens.Tensor($"{c}.fm.cond");
        var vPred = TrainingGoldens.Tensor($"{c}.fm.v_pred");
        int nSel = (int)expectedCond.shape[0];
        var fm = Losses.FlowMatching(states, tokens.unbind(0), filtered, 4, s => s.matmul(w.t()) + b, (x, t, z) =>
        {
            TensorAssert.Close(expectedCond.repeat(1, 4, 1).reshape(-1, 64), z, atol: 1e-5, what: "tiled cond");
            return vPred;
        }, draws);
        TensorAssert.Close(TrainingGoldens.Tensor($"{c}.fm.target"), fm.Target.reshape(nSel, 4, -1, 64)[.., 0], atol: 0, what: "target");
        TensorAssert.Close(TrainingGoldens.Tensor($"{c}.fm.t"), fm.T, atol: 0, what: "t");
        TensorAssert.Close(TrainingGoldens.Tensor($"{c}.fm.row_loss"), fm.RowLoss, atol: 0, rtol: 1e-6, what: "row_loss");
        float expected = TrainingGoldens.Scalar($"{c}.image_loss");
        Assert.InRange(Math.Abs(fm.Loss.item<float>() - expected), 0, 1e-6 * expected);
        var total = Losses.Total(tensor(TrainingGoldens.Scalar($"{c}.lm_loss")), fm, 0.01, 1.0);
        float loss = TrainingGoldens.Scalar($"{c}.loss");
        Assert.InRange(Math.Abs(total.Loss.item<float>() - loss), 0, 1e-6 * loss);
    }

    /// <summary>
    /// Images of one token count take the batched path (one projection, one tiling); a third image with another count
    /// sends the batch down the per-image path. The rows both give for the first two images must be the same.
    /// </summary>
    [Fact]
    public void MixedTokenCountsTileTheFirstImagesLikeTheBatchedPath()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(5);
        Tensor[] states = [randn([4, 8], generator: g), randn([4, 8], generator: g), randn([2, 8], generator: g)];
        Tensor[] tokens = [randn([4, 3], generator: g), randn([4, 3], generator: g), randn([2, 3], generator: g)];
        var w = randn([3, 8], generator: g);
        var noise = randn([30, 3], generator: g);
        var u = randn([30], generator: g);
        Tensor Project(Tensor s) => s.matmul(w.t());
        Tensor Net(Tensor x, Tensor t, Tensor z) => x * t.unsqueeze(1) + z;
        var uniform = Losses.FlowMatching(states[..2], tokens[..2], [true, true], 3, Project, Net, new(noise[..24], u[..24]));
        var mixed = Losses.FlowMatching(states, tokens, [true, true, true], 3, Project, Net, new(noise, u));
        TensorAssert.Close(mixed.Cond[..24], uniform.Cond, atol: 1e-6, what: "cond");
        TensorAssert.Close(mixed.Target[..24], uniform.Target, atol: 0, what: "target");
        TensorAssert.Close(mixed.RowLoss[..24], uniform.RowLoss, atol: 1e-6, what: "row loss");
        // Image 0's rows are its 4 tokens three times over: rows 4..7 repeat rows 0..3.
        TensorAssert.Close(uniform.Target[..4], uniform.Target[4..8], atol: 0, what: "tiling");
        TensorAssert.Close(tokens[1], uniform.Target[12..16], atol: 0, what: "second image");
    }

    [Theory, MemberData(nameof(Cases))]
    public void SeededDrawsReproduceTheRecordedStreams(string c)
    {
        // official order per case: VAE posterior noise, then fm.noise (randn_like), then fm.u (normal)
        using var scope = NewDisposeScope();
        var vaeNoise = TrainingGoldens.Tensor($"{c}.vae_noise");
        var noise = TrainingGoldens.Tensor($"{c}.fm.noise");
        // a private generator, as the trainer uses (the global one is shared with tests running in parallel)
        using var g = new Generator((ulong)TrainingGoldens.Case(c).GetProperty("torch_seed").GetInt64());
        TensorAssert.Close(vaeNoise, randn(vaeNoise.shape, generator: g), atol: 0, what: "vae_noise");
        TensorAssert.Close(noise, randn(noise.shape, generator: g), atol: 0, what: "fm.noise");
        TensorAssert.Close(TrainingGoldens.Tensor($"{c}.fm.u"), normal(0.0, 1.0, [noise.shape[0]], generator: g), atol: 0, what: "fm.u");
    }
}

/// <summary>The trainer's latents: official pixel normalisation, frozen-VAE posterior sample, (z − 0)·1 as in the training config.</summary>
public class TrainingLatentTests
{
    [Theory]
    [InlineData("t2i"), InlineData("edit"), InlineData("t2i_wide")]
    public void PosteriorSampleOfTheRecordedPixelsMatchesTheRecordedLatents(string c)
    {
        using var scope = NewDisposeScope();
        using var vae = NextStep.Model.AutoencoderKL.Load(Fixtures.Path("tiny", "model", "vae"));
        var u8 = TrainingGoldens.Tensor($"{c}.pixels_u8");
        var pixels = stack(u8.unbind(0).Select(img =>
        {
            var hwc = img.permute(1, 2, 0).contiguous();
            var image = new NextStep.Imaging.RgbImage((int)hwc.shape[1], (int)hwc.shape[0], hwc.data<byte>().ToArray());
            return Trainer.Pixels(image);
        }).ToArray());
        var (mean, logvar) = vae.EncodeMoments(pixels);
        var latents = vae.SamplePosterior(mean, logvar, TrainingGoldens.Tensor($"{c}.vae_noise"));
        TensorAssert.Close(TrainingGoldens.Tensor($"{c}.latents"), latents, atol: 0, rtol: 1e-5, what: "latents");
    }
}
