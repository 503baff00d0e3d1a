using NextStep.Imaging;
using NextStep.Training.Shapes;
using SkiaSharp;

namespace NextStep.Tests.Shapes;

/// <summary>Imperfections a generated image may have: sensor-like noise, blur, lossy compression.</summary>
internal static class Degrade
{
    public static RgbImage Noise(RgbImage image, double sigma, int seed)
    {
        var rng = new Random(seed);
        var px = image.Rgb.Select(p =>
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            return (byte)Math.Clamp(Math.Round(p + sigma * g), 0, 255);
        }).ToArray();
        return new RgbImage(image.Width, image.Height, px);
    }

    /// <summary>Separable Gaussian blur, edges clamped.</summary>
    public static RgbImage Blur(RgbImage image, double sigma)
    {
        int r = (int)Math.Ceiling(3 * sigma), w = image.Width, h = image.Height;
        var k = Enumerable.Range(-r, 2 * r + 1).Select(i => Math.Exp(-i * i / (2 * sigma * sigma))).ToArray();
        double sum = k.Sum();
        var src = image.Rgb.Select(p => (double)p).ToArray();
        double[] Pass(double[] a, bool horizontal)
        {
            var o = new double[a.Length];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < 3; c++)
                    {
                        double acc = 0;
                        for (int i = -r; i <= r; i++)
                        {
                            int xx = horizontal ? Math.Clamp(x + i, 0, w - 1) : x, yy = horizontal ? y : Math.Clamp(y + i, 0, h - 1);
                            acc += k[i + r] * a[(yy * w + xx) * 3 + c];
                        }
                        o[(y * w + x) * 3 + c] = acc / sum;
                    }
            return o;
        }
        var blurred = Pass(Pass(src, true), false);
        return new RgbImage(w, h, blurred.Select(v => (byte)Math.Clamp(Math.Round(v), 0, 255)).ToArray());
    }

    /// <summary>Encodes and decodes as JPEG in memory (Skia's libjpeg-turbo, 4:2:0 chroma).</summary>
    public static RgbImage Jpeg(RgbImage image, int quality)
    {
        using var bmp = ShapesImages.ToBitmap(image);
        using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, quality);
        using var decoded = SKBitmap.Decode(data).Copy(SKColorType.Rgba8888);
        var rgba = decoded.Bytes;
        var rgb = new byte[image.Width * image.Height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4) { rgb[i] = rgba[j]; rgb[i + 1] = rgba[j + 1]; rgb[i + 2] = rgba[j + 2]; }
        return new RgbImage(image.Width, image.Height, rgb);
    }

    /// <summary>Shifts every channel by its own offset in ±<paramref name="max"/> (a generator's colour cast).</summary>
    public static RgbImage Tint(RgbImage image, int max, int seed)
    {
        var rng = new Random(seed);
        var shift = new[] { rng.Next(-max, max + 1), rng.Next(-max, max + 1), rng.Next(-max, max + 1) };
        return new RgbImage(image.Width, image.Height, image.Rgb.Select((p, i) => (byte)Math.Clamp(p + shift[i % 3], 0, 255)).ToArray());
    }
}
