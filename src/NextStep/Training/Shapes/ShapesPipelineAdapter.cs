using NextStep.Pipeline;

namespace NextStep.Training.Shapes;

/// <summary>Generation settings for the eval; the defaults are the small-model "standard" preset (64 px, 20 steps, cfg 4).</summary>
public sealed record ShapesGenerationSettings(int Size, int Steps, double Cfg)
{
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

    private static GenerationRequest Request(string caption, int seed, ShapesGenerationSettings s) => new()
    {
        Captions = [caption],
        Height = s.Size,
        Width = s.Size,
        Cfg = s.Cfg,
        NumSamplingSteps = s.Steps,
        Seed = seed,
        PreSeed = seed,
    };
}
