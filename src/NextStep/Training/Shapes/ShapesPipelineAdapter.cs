namespace NextStep.Training.Shapes;

/// <summary>Generation settings the eval passes to the model.</summary>
public sealed record ShapesGenerationSettings(int Size = ShapesRenderer.DefaultSize, int Steps = 28, double Cfg = 3.0);

/// <summary>
/// Connects the NextStep text-to-image pipeline to <see cref="ShapesEval"/> as a <see cref="ShapesImageGenerator"/>.
/// PENDING: the pipeline class (NextStepPipeline) is not part of this branch yet; until it is merged this adapter
/// reports that plainly. Finishing it means: load the pipeline from <c>modelDir</c> once, and for each call
/// generate one Size×Size image for the caption with the given seed, steps and cfg, returning it as RgbImage.
/// </summary>
public static class ShapesPipelineAdapter
{
    public static ShapesImageGenerator Create(string modelDir, ShapesGenerationSettings settings)
    {
        if (!Directory.Exists(modelDir)) throw new NextStepException($"{modelDir}: model folder not found");
        throw new NextStepException($"{modelDir}: generating with a model needs the NextStep pipeline, which this build does not include yet (use --ground-truth to check the scorer alone)");
    }
}
