namespace NextStep.Server.Generation;

/// <summary>Everything a generator needs for one request; stored as JSON with the job so any worker can run it.</summary>
public sealed record GenerationJobSpec
{
    public required string Prompt { get; init; }
    public string? NegativePrompt { get; init; }
    public int N { get; init; } = 1;
    public int Width { get; init; } = 512;
    public int Height { get; init; } = 512;
    public long Seed { get; init; }
    public int Steps { get; init; } = 50;
    public double Cfg { get; init; } = 7.5;
    public double CfgImg { get; init; } = 1.0;
    public double Shift { get; init; } = 1.0;
    public bool UseNorm { get; init; } = true;
    /// <summary>Best of K per picture (text-to-image only; 1 = plain sampling).</summary>
    public int Candidates { get; init; } = 1;
    public string Preset { get; init; } = "t2i";

    /// <summary>Encoded input image (PNG/JPEG/WebP) for editing; null for text-to-image. Stored beside the spec, not in its JSON.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public byte[]? InputImage { get; init; }

    /// <summary>Image tokens per picture: one 64-dim token per 16×16 pixel patch (f8 VAE, 2×2 patches).</summary>
    public int TokensPerImage => Width / 16 * (Height / 16);
}

/// <summary>One finished picture, PNG-encoded.</summary>
public sealed record GeneratedImage(byte[] Png, int Width, int Height);

/// <summary>The generation back end the server drives: the real NextStep pipeline or a fake for tests.</summary>
public interface IImageGenerator
{
    string ModelName { get; }

    /// <summary>Generates <c>spec.N</c> pictures, reporting (tokens done, tokens total) after every image token.</summary>
    Task<IReadOnlyList<GeneratedImage>> GenerateAsync(GenerationJobSpec spec, IProgress<(int Done, int Total)> progress, CancellationToken ct);
}
