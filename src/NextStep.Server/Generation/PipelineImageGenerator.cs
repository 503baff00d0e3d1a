namespace NextStep.Server.Generation;

/// <summary>
/// Adapter from the server to the NextStep pipeline (<c>NextStep.Pipeline.NextStepPipeline</c>).
/// PENDING: the pipeline has not landed on main yet; until it does this adapter checks the model folder and reports
/// that real generation is unavailable, so <c>nextstep serve --fake</c> is the way to run the server today.
/// </summary>
public sealed class PipelineImageGenerator : IImageGenerator
{
    private readonly string _modelDir;

    public PipelineImageGenerator(string modelDir)
    {
        if (!Directory.Exists(modelDir))
            throw new NextStepException($"--model '{modelDir}': folder not found (expected a NextStep-1 checkpoint folder with config.json)");
        if (!File.Exists(Path.Combine(modelDir, "config.json")))
            throw new NextStepException($"--model '{modelDir}': config.json not found (expected a NextStep-1 checkpoint folder)");
        _modelDir = modelDir;
    }

    public string ModelName => Path.GetFileName(Path.TrimEndingDirectorySeparator(_modelDir));

    public Task<IReadOnlyList<GeneratedImage>> GenerateAsync(GenerationJobSpec spec, IProgress<(int Done, int Total)> progress, CancellationToken ct) =>
        throw new NextStepException("the NextStep pipeline is not available in this build yet; run the server with --fake");
}
