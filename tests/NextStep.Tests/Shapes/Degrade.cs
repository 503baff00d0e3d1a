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

    public static RgbImage Jpeg(RgbImage image, int quality)
        => ShapesImages.Decode(ShapesImages.Encode(image, SKEncodedImageFormat.Jpeg, quality), "jpeg");
}
