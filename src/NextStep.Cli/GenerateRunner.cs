using NextStep.Imaging;
using NextStep.Pipeline;

namespace NextStep.Cli;

/// <summary>One written image: where, from which seed and try, and its quality score.</summary>
public sealed record WrittenImage(string Path, long Seed, int Attempt, double Quality, bool MetMinQuality);

/// <summary>
/// A loaded model that runs <see cref="JobSettings"/> and writes the images with their parameters
/// (shared by <c>generate</c> and <c>batch</c>, which loads the model once for all items).
/// </summary>
public sealed class GenerateRunner : IDisposable
{
    private readonly NextStepPipeline pipeline;

    public ModelInfo Model { get; }
    public string ModelHash { get; }

    public GenerateRunner(ModelInfo model, PipelineOptions options)
    {
        Model = model;
        ModelHash = ImageMetadata.ModelHashOf(model.Folder);
        pipeline = NextStepPipeline.Load(model.Folder, options);
    }

    /// <summary>
    /// Generates the job's images and writes them to <paramref name="outPath"/> (several: <c>name_0.png</c>, …).
    /// With <see cref="JobSettings.MinQuality"/>, images below it are generated again with seed+1, seed+2, … (up to
    /// <see cref="JobSettings.Retries"/> more tries); each image keeps its first passing try, else its best one.
    /// </summary>
    public IReadOnlyList<WrittenImage> Run(JobSettings job, string outPath, bool sidecar, ProgressDisplay display, string label, CancellationToken cancel = default)
    {
        ImageIO.FormatOf(outPath);
        var input = job.LoadImage();
        var best = new (RgbImage Image, long Seed, int Attempt, double Quality)?[job.Count];
        for (int attempt = 1; attempt <= 1 + job.Retries; attempt++)
        {
            long seed = job.Seed + attempt - 1;
            var request = job.ToRequest(input) with { Seed = seed, PreSeed = seed };
            var images = pipeline.Generate(request, display.Start(attempt == 1 ? label : $"{label} (try {attempt}, seed {seed})"), cancel);
            for (int i = 0; i < images.Count; i++)
            {
                double q = QualityScore.Compute(images[i].Rgb, images[i].Width, images[i].Height).Overall;
                if (best[i] is not { } b || (!Passes(job, b.Quality) && q > b.Quality)) best[i] = (images[i], seed, attempt, q);
            }
            if (best.All(b => Passes(job, b!.Value.Quality))) break;
        }

        var template = Metadata(job);
        var written = new List<WrittenImage>();
        for (int i = 0; i < best.Length; i++)
        {
            if (job.KeepIndex is { } keep && keep != i) continue;
            var (image, seed, attempt, quality) = best[i]!.Value;
            var path = job.Count == 1 || job.KeepIndex is not null ? outPath : IndexedPath(outPath, i);
            var meta = template with { Seed = seed, Index = i, Attempt = job.MinQuality is null ? null : attempt, Quality = quality };
            ImageIO.Save(image, path, meta);
            if (sidecar) File.WriteAllText(Path.ChangeExtension(path, ".json"), meta.ToJson(indented: true));
            written.Add(new WrittenImage(path, seed, attempt, quality, Passes(job, quality)));
        }
        return written;
    }

    private static bool Passes(JobSettings job, double quality) => job.MinQuality is not { } min || quality >= min;

    /// <summary>Every parameter needed to run the job again (<c>generate --from</c>).</summary>
    public ImageMetadata Metadata(JobSettings job) => new()
    {
        Prompt = job.Prompt!,
        Positive = job.Positive,
        Negative = job.Negative,
        Seed = job.Seed,
        Steps = job.Steps,
        Cfg = job.Cfg,
        CfgImg = job.CfgImg,
        CfgSchedule = job.CfgSchedule.Trim().ToLowerInvariant(),
        Shift = job.Shift,
        UseNorm = job.UseNorm,
        Width = job.Width,
        Height = job.Height,
        Count = job.Count,
        Candidates = job.Candidates,
        Sampler = GenerationRequest.Name(job.Sampler is { } s ? GenerationRequest.ParseVariant(s) : pipeline.DefaultVariant),
        Model = Model.Name,
        ModelHash = ModelHash,
        InputImage = job.Image,
    };

    /// <summary><c>out.png</c> → <c>out_3.png</c>.</summary>
    public static string IndexedPath(string path, int index)
    {
        var ext = Path.GetExtension(path);
        return string.Concat(path.AsSpan(0, path.Length - ext.Length), $"_{index}", ext);
    }

    public void Dispose() => pipeline.Dispose();
}
