using SkiaSharp;

namespace NextStep.Server.Generation;

/// <summary>
/// Deterministic stand-in for the model: a two-colour gradient chosen by the seed, drawn after "sampling" every
/// image token with a small delay so progress and cancellation behave like the real thing.
/// </summary>
public sealed class FakeImageGenerator(TimeSpan perImage) : IImageGenerator
{
    public string ModelName => "nextstep-fake";

    public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(GenerationJobSpec spec, IProgress<(int Done, int Total)> progress, CancellationToken ct)
    {
        int perPicture = spec.TokensPerImage, total = perPicture * spec.N;
        const int tokensPerPause = 16;
        var pause = perImage * tokensPerPause / perPicture;
        var images = new List<GeneratedImage>();
        for (int i = 0; i < spec.N; i++)
        {
            for (int t = 1; t <= perPicture; t++)
            {
                progress.Report((i * perPicture + t, total));
                if (t % tokensPerPause == 0) await Task.Delay(pause, ct);
            }
            ct.ThrowIfCancellationRequested();
            images.Add(Draw(spec.Width, spec.Height, spec.Seed + i));
        }
        return images;
    }

    public static GeneratedImage Draw(int width, int height, long seed)
    {
        var rng = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        SKColor from = new((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
        SKColor to = new((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var paint = new SKPaint { Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height), [from, to], SKShaderTileMode.Clamp) };
        surface.Canvas.DrawRect(0, 0, width, height, paint);
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return new GeneratedImage(png.ToArray(), width, height);
    }
}
