using NextStep.Imaging;
using NextStep.Pipeline;

namespace NextStep.Training.Shapes;

/// <summary>Generation settings for the eval; the defaults are the small-model "standard" preset (64 px, 20 steps, cfg 4).</summary>
public sealed record ShapesGenerationSettings(int Size, int Steps, double Cfg, bool UseNorm = false, double Shift = 1.0, int Candidates = 1)
{
    /// <summary>A model folder's <c>sampling_profile.json</c> values (size, steps, cfg, use_norm, shift, candidates); without the file, <see cref="Default"/>.</summary>
    public static ShapesGenerationSettings ForModel(string modelFolder)
        => Sampling.SamplingProfile.FromFile(modelFolder) is { } p ? new(p.Height, p.NumSamplingSteps, p.Cfg, p.UseNorm, p.TimestepsShift, p.Candidates) : Default;

    public static ShapesGenerationSettings Default { get; } = FromPreset(Presets.Get("standard", fullSizeModel: false));

    public static ShapesGenerationSettings FromPreset(Preset preset) => new(preset.Size, preset.Steps, preset.Cfg);
}

/// <summary>The NextStep text-to-image pipeline as a <see cref="ShapesImageGenerator"/> for <see cref="ShapesEval"/>.</summary>
public static class ShapesPipelineAdapter
{
    /// <summary>
    /// One Size×Size image per call, seeded with the eval seed, using the checkpoint's default sampler.
    /// The pipeline stays owned by the caller.
    /// </summary>
    public static ShapesImageGenerator Create(NextStepPipeline pipeline, ShapesGenerationSettings settings)
    {
        var probe = Request("probe", 0, settings);
        probe.Validate(pipeline.DownFactor, pipeline.DefaultVariant);
        return (caption, seed) => pipeline.Generate(Request(caption, seed, settings))[0];
    }

    /// <summary>
    /// <paramref name="inner"/>'s images after a round trip through <paramref name="vae"/> (posterior mean, decoded):
    /// with the renderer as <paramref name="inner"/>, the best score a generator using this VAE can reach.
    /// </summary>
    public static ShapesImageGenerator ThroughVae(ShapesImageGenerator inner, Model.AutoencoderKL vae)
    {
        var roundTrip = RoundTrip(vae);
        return (caption, seed) => roundTrip(inner(caption, seed));
    }

    /// <summary>An image encoded by <paramref name="vae"/> (posterior mean) and decoded again.</summary>
    public static Func<RgbImage, RgbImage> RoundTrip(Model.AutoencoderKL vae) => image =>
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var (mean, _) = vae.EncodeMoments(Trainer.Pixels(image).unsqueeze(0));
        return NextStepPipeline.ToImages(vae.Decode(mean))[0];
    };

    /// <summary>
    /// Pictures through <paramref name="vae"/>'s encoder 32 at a time (posterior mean, in the VAE's dtype and device),
    /// each chunk's mean mapped by <paramref name="then"/>, the results concatenated; pictures are read only as their
    /// chunk is reached, so a lazy sequence renders them chunk by chunk.
    /// </summary>
    public static TorchSharp.torch.Tensor EncodeInChunks(Model.AutoencoderKL vae, IEnumerable<RgbImage> images, Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> then)
    {
        using var noGrad = TorchSharp.torch.no_grad();
        var chunks = new List<TorchSharp.torch.Tensor>();
        try
        {
            foreach (var chunk in images.Chunk(32))
            {
                using var scope = TorchSharp.torch.NewDisposeScope();
                var (mean, _) = vae.EncodeMoments(NextStepPipeline.ToPixels(chunk).to(vae.DType, vae.Device));
                chunks.Add(then(mean).MoveToOuterDisposeScope());
            }
            return TorchSharp.torch.cat(chunks.ToArray(), 0);
        }
        finally { foreach (var t in chunks) t.Dispose(); }
    }

    private static GenerationRequest Request(string caption, int seed, ShapesGenerationSettings s) => new()
    {
        Captions = [caption],
        Height = s.Size,
        Width = s.Size,
        Cfg = s.Cfg,
        NumSamplingSteps = s.Steps,
        UseNorm = s.UseNorm,
        TimestepsShift = s.Shift,
        Seed = seed,
        PreSeed = seed,
        Candidates = s.Candidates,
    };
}
