using NextStep.Pipeline;
using NextStep.Sampling;

namespace NextStep.Training.Shapes;

/// <summary>Generation settings the eval passes to the model; null = the model's <see cref="SamplingProfile"/> value.</summary>
public sealed record ShapesGenerationSettings(int Size = ShapesRenderer.DefaultSize, int? Steps = null, double? Cfg = null);

/// <summary>
/// Connects the NextStep text-to-image pipeline to <see cref="ShapesEval"/> as a <see cref="ShapesImageGenerator"/>: the
/// pipeline is loaded once; each call generates one Size×Size image for the caption with the given seed. Sampler,
/// use_norm, timesteps shift, SDE type, and (unless set) steps and cfg come from the model's sampling profile.
/// </summary>
public static class ShapesPipelineAdapter
{
    public static ShapesImageGenerator Create(string modelDir, ShapesGenerationSettings settings)
    {
        var pipeline = NextStepPipeline.Load(modelDir);
        var profile = SamplingProfile.For(pipeline.Model.Config, modelDir);
        return Create(pipeline, profile, settings);
    }

    /// <summary>An adapter over an already loaded pipeline (which the caller keeps and disposes).</summary>
    public static ShapesImageGenerator Create(NextStepPipeline pipeline, SamplingProfile profile, ShapesGenerationSettings settings) =>
        (caption, seed) => pipeline.Generate(new GenerationRequest
        {
            Captions = [caption],
            Height = settings.Size,
            Width = settings.Size,
            Cfg = settings.Cfg ?? profile.Cfg,
            NumSamplingSteps = settings.Steps ?? profile.NumSamplingSteps,
            TimestepsShift = profile.TimestepsShift,
            UseNorm = profile.UseNorm,
            Variant = GenerationRequest.ParseVariant(profile.Sampler),
            SdeType = profile.Sampler == Samplers.V11 ? profile.SdeType : "sde",
            Seed = seed,
            PreSeed = seed,
        })[0];
}
