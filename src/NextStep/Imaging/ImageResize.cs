namespace NextStep.Imaging;

/// <summary>
/// Bicubic resampling as Pillow's <c>Image.resize(size, BICUBIC)</c> computes it for 8-bit images: a separable
/// filter (cubic kernel with a = −0.5, widened by the scale when shrinking so it antialiases), coefficients
/// normalised per output pixel and rounded to 22-bit fixed point, a horizontal pass rounded to 8 bits, then a
/// vertical pass. The official editing example resizes its input this way to the requested size.
/// </summary>
public static class ImageResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    public static RgbImage Bicubic(RgbImage image, int width, int height)
    {
        if (width <= 0 || height <= 0) throw new NextStepException($"resize target {width}x{height}: width and height must be positive");
        if (width == image.Width && height == image.Height) return image;
        var horizontal = width == image.Width ? image : Pass(image, width, horizontal: true);
        return height == image.Height ? horizontal : Pass(horizontal, height, horizontal: false);
    }

    private static double Cubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>Per output index: the first input index, the tap count and the fixed-point weights.</summary>
    private static (int[] First, int[] Count, int[][] Weights) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = 2.0 * filterScale;
        var first = new int[outSize];
        var count = new int[outSize];
        var weights = new int[outSize][];
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            int min = Math.Max((int)(center - support + 0.5), 0);
            int max = Math.Min((int)(center + support + 0.5), inSize);
            var k = new double[max - min];
            double sum = 0;
            for (int x = 0; x < k.Length; x++) sum += k[x] = Cubic((x + min - center + 0.5) / filterScale);
            var fixedK = new int[k.Length];
            for (int x = 0; x < k.Length; x++)
            {
                double w = sum != 0.0 ? k[x] / sum : k[x];
                fixedK[x] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
            }
            (first[o], count[o], weights[o]) = (min, k.Length, fixedK);
        }
        return (first, count, weights);
    }

    private static RgbImage Pass(RgbImage src, int outSize, bool horizontal)
    {
        int outW = horizontal ? outSize : src.Width, outH = horizontal ? src.Height : outSize;
        var (first, count, weights) = Coefficients(horizontal ? src.Width : src.Height, outSize);
        var dst = new byte[outW * outH * 3];
        for (int y = 0; y < outH; y++)
            for (int x = 0; x < outW; x++)
            {
                int o = horizontal ? x : y;
                for (int c = 0; c < 3; c++)
                {
                    int acc = 1 << (PrecisionBits - 1);
                    for (int t = 0; t < count[o]; t++)
                    {
                        int sx = horizontal ? first[o] + t : x, sy = horizontal ? y : first[o] + t;
                        acc += src.Rgb[(sy * src.Width + sx) * 3 + c] * weights[o][t];
                    }
                    dst[(y * outW + x) * 3 + c] = (byte)Math.Clamp(acc >> PrecisionBits, 0, 255);
                }
            }
        return new RgbImage(outW, outH, dst);
    }
}
