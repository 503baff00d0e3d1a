using NextStep.Tests.Support;
using NextStep.Training;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

/// <summary>Self-sampled inputs (parallel scheduled sampling, <see cref="SelfInputs"/>) on the tiny checkpoint and the official training batch.</summary>
public sealed class SelfInputsTests
{
    [Fact]
    public void EachSampleIsDrawnFromTheOfficialConditionOfItsToken()
    {
        using var scope = NewDisposeScope();
        using var model = ObjectiveTests.TrainableTinyModel();
        var batch = ObjectiveTests.GoldenBatch("t2i");
        Assert.All(batch.ImageFilteredIdx, Assert.True);
        var tokens = Objective.PatchifyEach(model, batch.Latents);
        var samples = new SelfInputs(1, Steps: 1).Sample(model, batch.InputIds, tokens, new Generator(7));

        // One Euler step from t = 0: x = ε + v(ε, 0, c), with c the condition the official training code computed
        // for that token (fm.cond: the out-projected hidden state just before it) and ε the seeded torch stream.
        var cond = TrainingGoldens.Tensor("t2i.fm.cond");
        var flat = cond.reshape(-1, cond.shape[2]);
        var eps = randn([flat.shape[0], tokens[0].shape[1]], generator: new Generator(7));
        using var _ = no_grad();
        var expected = eps + model.Head.forward(eps, zeros(flat.shape[0]), flat);
        TensorAssert.Close(expected, cat(samples.ToArray(), 0), atol: 1e-5, rtol: 1e-4, what: "one-step samples");
    }

    [Fact]
    public void ASampleDependsOnlyOnTheTokensBeforeIt()
    {
        using var scope = NewDisposeScope();
        using var model = ObjectiveTests.TrainableTinyModel();
        var batch = ObjectiveTests.GoldenBatch("t2i");
        var tokens = Objective.PatchifyEach(model, batch.Latents);
        var settings = new SelfInputs(1, Steps: 4, Start: 0.5);
        var before = settings.Sample(model, batch.InputIds, tokens, new Generator(11));
        const int j = 2;
        var changed = tokens.Select(t => t.clone()).ToList();
        changed[0][j].add_(3.0);
        var after = settings.Sample(model, batch.InputIds, changed, new Generator(11));

        // Token j of image 0 changed: its own sample starts from it (Start > 0), so rows up to j − 1 stay, row j and later move.
        TensorAssert.Close(before[0][..j], after[0][..j], atol: 1e-6, what: "samples before the changed token");
        Assert.True((before[0][j..] - after[0][j..]).abs().max().item<float>() > 1e-3, "samples from the changed token on should move");
        // Without Start the sample of token j does not read token j at all.
        var fromNoise = new SelfInputs(1, Steps: 2);
        var a = fromNoise.Sample(model, batch.InputIds, tokens, new Generator(5));
        var b = fromNoise.Sample(model, batch.InputIds, changed, new Generator(5));
        TensorAssert.Close(a[0][..(j + 1)], b[0][..(j + 1)], atol: 1e-6, what: "samples up to the changed token, from noise");
        Assert.True((a[0][(j + 1)..] - b[0][(j + 1)..]).abs().max().item<float>() > 1e-3, "samples after the changed token should move");
    }

    [Fact]
    public void MixReplacesTokensWithTheGivenProbability()
    {
        using var scope = NewDisposeScope();
        using var model = ObjectiveTests.TrainableTinyModel();
        var batch = ObjectiveTests.GoldenBatch("t2i");
        var tokens = Objective.PatchifyEach(model, batch.Latents);
        var inputs = tokens.Select(t => t + 0.5).ToList();
        Assert.Same(inputs, new SelfInputs(0).Mix(model, batch.InputIds, tokens, inputs, new Generator(1)));

        var samples = cat(new SelfInputs(1).Sample(model, batch.InputIds, tokens, new Generator(3)).ToArray(), 0);
        TensorAssert.Close(samples, cat(new SelfInputs(1).Mix(model, batch.InputIds, tokens, inputs, new Generator(3)).ToArray(), 0), atol: 0, what: "p = 1: every token sampled");

        var half = cat(new SelfInputs(0.5).Mix(model, batch.InputIds, tokens, inputs, new Generator(3)).ToArray(), 0);
        var flat = cat(inputs.ToArray(), 0);
        int sampled = 0, kept = 0;
        for (long r = 0; r < half.shape[0]; r++)
        {
            bool isSample = half[r].equal(samples[r]).all().item<bool>(), isInput = half[r].equal(flat[r]).all().item<bool>();
            Assert.True(isSample ^ isInput, $"row {r} must be either its input or its sample");
            if (isSample) sampled++; else kept++;
        }
        Assert.True(sampled > 0 && kept > 0, $"p = 0.5 over {half.shape[0]} tokens: {sampled} sampled, {kept} kept");
    }

    [Fact]
    public void TheLossWithSelfInputsKeepsTheCleanTargets()
    {
        using var scope = NewDisposeScope();
        using var model = ObjectiveTests.TrainableTinyModel();
        const string c = "t2i";
        var off = Objective.Compute(model, ObjectiveTests.GoldenBatch(c), out _, ObjectiveTests.GoldenDraws(c), selfInputs: new SelfInputs(0));
        ObjectiveTests.AssertScalar($"{c}.image_loss", off.ImageLoss);
        var on = Objective.Compute(model, ObjectiveTests.GoldenBatch(c), out _, ObjectiveTests.GoldenDraws(c), new Generator(2), selfInputs: new SelfInputs(1));
        var target = TrainingGoldens.Tensor($"{c}.fm.target");
        TensorAssert.Close(target.repeat(1, 4, 1).reshape(-1, target.shape[2]), on.FlowMatching.Target, atol: 0, what: "fm.target");
        Assert.NotEqual(TrainingGoldens.Scalar($"{c}.image_loss"), on.ImageLoss.item<float>(), 3);
    }

    [Theory]
    [InlineData(1.5, 8, 0.0, "probability 1.5")]
    [InlineData(double.NaN, 8, 0.0, "probability NaN")]
    [InlineData(0.5, 0, 0.0, "0 sampling steps")]
    [InlineData(0.5, 8, 1.0, "start time 1")]
    public void BadSettingsAreRefusedByName(double p, int steps, double start, string expected)
    {
        var e = Assert.Throws<NextStepException>(() => new SelfInputs(p, steps, start).Validate("--self-inputs"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("--self-inputs", e.Message);
    }
}
