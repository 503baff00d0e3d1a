using NextStep.Model;
using NextStep.Tokenization;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>
/// Decoder training on the generator's own tokens (not in the released code; off by default): a trained NextStep
/// model reads each training image's caption and latent teacher-forced and redraws every image token from the state
/// before it (<see cref="SelfInputs.Sample"/>: the token noised to flow time <see cref="Start"/>, then
/// <see cref="Steps"/> Euler steps of its head); each token is replaced by its redrawing with probability
/// <see cref="Probability"/>. The decoder then learns to draw the true image from tokens with the generator's own
/// errors, instead of from tokens with isotropic noise only (<see cref="VaeTrainingOptions.LatentNoise"/>).
/// </summary>
public sealed record GeneratorRedrawOptions(string ModelFolder, double Probability = 0.5, double Start = 0.5, int Steps = 20)
{
    public GeneratorRedrawOptions Validate(string what)
    {
        new SelfInputs(Probability, Steps, Start).Validate(what);
        if (!Directory.Exists(ModelFolder)) throw new NextStepException($"{what}: model folder {ModelFolder} does not exist");
        return this;
    }
}

/// <summary>The loaded generator of <see cref="GeneratorRedrawOptions"/>, applied to batches of latents.</summary>
public sealed class GeneratorRedraw : IDisposable
{
    private readonly NextStepModel _model;
    private readonly SequenceBuilder _builder;
    private readonly SelfInputs _sampling;

    public GeneratorRedraw(GeneratorRedrawOptions options)
    {
        _model = NextStepModel.Load(options.ModelFolder);
        _model.eval();
        var c = _model.Config;
        _builder = new SequenceBuilder(Qwen2Tokenizer.Load(options.ModelFolder), c.Boi, c.Eoi, c.ImagePlaceholderId);
        _sampling = new SelfInputs(options.Probability, options.Steps, options.Start);
    }

    /// <summary>
    /// Raw posterior latents [B, C, H, W] (the decoder's input space) with some tokens redrawn by the generator from
    /// <paramref name="captions"/> (one per image; an image whose caption is null keeps all its tokens), in the same
    /// space; <paramref name="shift"/> and <paramref name="scale"/> are the VAE's latent statistics, which map them to
    /// the generator's token space.
    /// </summary>
    public Tensor Apply(Tensor latents, IReadOnlyList<string?> captions, double shift, double scale)
    {
        if (captions.Count != latents.shape[0]) throw new NextStepException($"generator redraw: {captions.Count} captions for {latents.shape[0]} images");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int h = (int)latents.shape[2] / _model.Config.LatentPatchSize, w = (int)latents.shape[3] / _model.Config.LatentPatchSize;
        var tokens = _model.Patchify(AutoencoderKL.NormalizeLatents(latents.detach(), shift, scale)).unbind(0);
        var chosen = Enumerable.Range(0, captions.Count).Where(i => captions[i] is not null).ToList();
        if (chosen.Count == 0) return latents.detach().clone().MoveToOuterDisposeScope();
        var picked = chosen.Select(i => tokens[i]).ToList();
        var redrawn = _sampling.Mix(_model, InputIds(chosen.Select(i => captions[i]!).ToList(), new TokenGrid(h, w)), picked, picked);
        var all = tokens.ToArray();
        for (int k = 0; k < chosen.Count; k++) all[chosen[k]] = redrawn[k];
        var z = _model.Unpatchify(stack(all, 0), h, w);
        using TorchSharp.Scalar inverse = 1 / scale, offset = shift; // held while libtorch reads them (see AdamW.Update)
        return Held.Add(z * inverse, offset).MoveToOuterDisposeScope();
    }

    /// <summary>The text-to-image rows of the captions (caption first, as at inference), right-padded [B, L].</summary>
    private Tensor InputIds(IReadOnlyList<string> captions, TokenGrid grid)
    {
        var rows = captions.Select(caption => _builder.TextToImage(caption, 0, grid, imageFirst: false).InputIds).ToList();
        return tensor(SequenceBuilder.RightPadded(rows, SequenceBuilder.PadId(_model.Config)));
    }

    public void Dispose() => _model.Dispose();
}
