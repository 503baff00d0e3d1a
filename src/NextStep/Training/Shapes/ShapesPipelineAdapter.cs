using NextStep.Pipeline;

namespace NextStep.Training.Shapes;

/// <summary>Generation settings the eval passes to the model.</summary>
public sealed record ShapesGenerationSettings(int Size = ShapesRenderer.DefaultSize, int Steps = 28, double Cfg = 3.0);

/// <summary>
/// Connects the NextStep text-to-image pipeline to <see cref="ShapesEval"/> as a <see cref="ShapesImageGenerator"/>:
/// the pipeline is loaded from <c>modelDir</c> once (it lives as long as the generator), and each call generates one
/// Size×Size image for the caption with the given seed, steps and cfg, using the checkpoint's default sampler.
/// </summary>
public static class ShapesPipelineAdapter
{
    public static ShapesImageGenerator Create(string modelDir, ShapesGenerationSettings settings)
    {
        var pipeline = NextStepPipeline.Load(modelDir);
        return (prompt, seed) => pipeline.Generate(new GenerationRequest
        {
            Captions = [prompt],
            Height = settings.Size,
            Width = settings.Size,
            NumSamplingSteps = settings.Steps,
            Cfg = settings.Cfg,
            Seed = seed,
        })[0];
    }
}
