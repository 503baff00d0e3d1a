using NextStep.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>
/// Self-sampled inputs (parallel scheduled sampling; not in the released training code, off by default): before the
/// training forward, the model reads the batch teacher-forced without gradient, its head samples every image token
/// from the condition state that precedes it (an Euler ODE of <see cref="Steps"/> steps, no guidance), and each input
/// token is replaced by its sample with probability <see cref="Probability"/>. With <see cref="Start"/> above 0 the ODE
/// starts from the clean token noised to that time instead of from pure noise, so a sample is the model's redrawing of
/// the true token rather than an independent one (which may place an object elsewhere and contradict the targets). The backbone then trains on a history
/// that holds its own one-step predictions, as at inference, while the flow-matching targets stay the clean tokens.
/// </summary>
public sealed record SelfInputs(double Probability, int Steps = 8, double Start = 0)
{
    /// <summary>Checks the settings; <paramref name="what"/> names them in the error (e.g. the CLI options).</summary>
    public SelfInputs Validate(string what)
    {
        if (!(Probability is >= 0 and <= 1)) throw new NextStepException($"{what}: probability {Probability} must be between 0 and 1");
        if (!(Start is >= 0 and < 1)) throw new NextStepException($"{what}: start time {Start} must be at least 0 and below 1");
        if (Steps < 1) throw new NextStepException($"{what}: {Steps} sampling steps, expected at least 1");
        return this;
    }

    /// <summary>
    /// The model's one-step samples of <paramref name="tokens"/> (per image [T, D], in the batch's placeholder order):
    /// sample j is drawn from the hidden state before token j, so it depends only on the caption and tokens before j.
    /// </summary>
    public IReadOnlyList<Tensor> Sample(NextStepModel model, Tensor inputIds, IReadOnlyList<Tensor> tokens, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var clean = cat(tokens.ToArray(), 0);
        var perImage = tokens.Select(t => t.shape[0]).ToArray();
        var h = model.Forward(model.Embed(inputIds, clean), null, null);
        var mask = Losses.FmConditionMask(inputIds, model.Config.ImagePlaceholderId);
        var cond = model.ImageOutProjector.forward(cat(Losses.ConditionStates(h, mask, perImage), 0));
        var x = randn(clean.shape, clean.dtype, clean.device, generator: generator);
        // x_t = t·x1 + (1 − t)·ε from t = Start to 1 (data), velocity x1 − ε: the training convention of Losses.FlowMatching.
        // Start > 0 begins from the clean token noised to that time, so the sample stays near it (as in SDEdit).
        double step = (1 - Start) / Steps;
        using Scalar start = Start, rest = 1 - Start, dt = step; // held while libtorch reads them (see AdamW.Update)
        if (Start > 0) x = Held.Add(clean * start, x * rest);
        for (int k = 0; k < Steps; k++)
        {
            using Scalar now = Start + k * step;
            using var t = full([clean.shape[0]], now, x.dtype, x.device);
            using var v = model.Head.forward(x, t, cond);
            x = Held.Add(x, v * dt);
        }
        var samples = x.split(perImage, 0);
        foreach (var s in samples) s.MoveToOuterDisposeScope();
        return samples;
    }

    /// <summary>
    /// The training inputs: each token of <paramref name="inputs"/> (the clean or input-noised tokens) replaced by the
    /// model's sample of it (<see cref="Sample"/>, from the clean <paramref name="tokens"/>) with probability <see cref="Probability"/>.
    /// </summary>
    public IReadOnlyList<Tensor> Mix(NextStepModel model, Tensor inputIds, IReadOnlyList<Tensor> tokens, IReadOnlyList<Tensor> inputs, Generator? generator = null)
    {
        if (Probability == 0 || tokens.Count == 0) return inputs;
        using var scope = NewDisposeScope();
        var samples = cat(Sample(model, inputIds, tokens, generator).ToArray(), 0);
        var flat = cat(inputs.ToArray(), 0);
        using Scalar probability = Probability;
        var pick = rand([flat.shape[0], 1], flat.dtype, flat.device, generator: generator) < probability;
        var mixed = where(pick, samples, flat).split(inputs.Select(t => t.shape[0]).ToArray(), 0);
        foreach (var m in mixed) m.MoveToOuterDisposeScope();
        return mixed;
    }
}
