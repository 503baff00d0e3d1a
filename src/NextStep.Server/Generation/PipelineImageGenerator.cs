using NextStep.Imaging;
using NextStep.Pipeline;
using SkiaSharp;

namespace NextStep.Server.Generation;

/// <summary>
/// The real generator: <see cref="NextStepPipeline"/> loaded from a checkpoint folder on the first job. One job uses
/// the model at a time (a CPU run already uses every core); an edit's input picture is resized to the output size
/// and its caption gets the "&lt;image&gt;" tag, as in <c>nextstep edit</c>.
/// </summary>
public sealed class PipelineImageGenerator : IImageGenerator
{
    private readonly string _modelDir;
    private readonly PipelineVariant? _variant;
    private readonly Lazy<NextStepPipeline> _pipeline;
    private readonly SemaphoreSlim _one = new(1, 1);

    public PipelineImageGenerator(string modelDir, PipelineVariant? variant = null, PipelineOptions? options = null)
    {
        if (!File.Exists(Path.Combine(modelDir, "config.json")))
            throw new NextStepException($"--model '{modelDir}': config.json not found (expected a NextStep-1 checkpoint folder)");
        (_modelDir, _variant) = (modelDir, variant);
        _pipeline = new(() => NextStepPipeline.Load(modelDir, options));
    }

    public string ModelName => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(_modelDir)));

    public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(GenerationJobSpec spec, IProgress<(int Done, int Total)> progress, CancellationToken ct)
    {
        await _one.WaitAsync(ct);
        try
        {
            return await Task.Run(() => Generate(spec, progress, ct), ct);
        }
        finally
        {
            _one.Release();
        }
    }

    private List<GeneratedImage> Generate(GenerationJobSpec spec, IProgress<(int Done, int Total)> progress, CancellationToken ct)
    {
        var caption = spec.Prompt;
        IReadOnlyList<RgbImage>? images = null;
        if (spec.InputImage is { } bytes)
        {
            images = [ImageResize.Bicubic(ImageIO.Decode(bytes, "image"), spec.Width, spec.Height)];
            caption = GenerationRequest.EditCaption(caption);
        }
        var request = new GenerationRequest
        {
            Captions = [caption],
            Images = images,
            NumImagesPerCaption = spec.N,
            NegativePrompt = spec.NegativePrompt,
            Height = spec.Height,
            Width = spec.Width,
            Cfg = spec.Cfg,
            CfgImg = spec.CfgImg,
            UseNorm = spec.UseNorm,
            Candidates = spec.Candidates,
            NumSamplingSteps = spec.Steps,
            TimestepsShift = spec.Shift,
            Seed = spec.Seed,
            Variant = _variant,
        };
        // every sampling step makes one token of each of the N pictures of the batch
        var perStep = new TokenProgress(p => progress.Report((p.Token * spec.N, p.TotalTokens * spec.N)));
        return _pipeline.Value.Generate(request, perStep, ct)
            .Select(img => new GeneratedImage(ImageIO.Encode(img, SKEncodedImageFormat.Png, 100, "result"), img.Width, img.Height)).ToList();
    }

    private sealed class TokenProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}
