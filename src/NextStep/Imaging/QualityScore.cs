namespace NextStep.Imaging;

/// <summary>
/// A cheap, reference-free image quality assessment (0 = worst, 1 = best for every component except
/// <see cref="Artifacts"/>, where higher is worse). Computed on luminance Y = 0.299R + 0.587G + 0.114B (0..255):
/// <list type="bullet">
/// <item><b>Sharpness</b> = min(1, Var(∇²Y) / 500), the variance of the 4-neighbour Laplacian over interior pixels.</item>
/// <item><b>Diversity</b> = Shannon entropy of the 4×4×4-bin RGB histogram divided by ln 64.</item>
/// <item><b>Balance</b> = 1 − d, where d is the distance of the centroid of gradient energy (mean |∇Y| per cell of a
///   3×3 grid, cells placed at their centres) from the image centre, divided by the centre-to-corner-cell distance.
///   An image without any gradient counts as balanced (1).</item>
/// <item><b>Artifacts</b> = HF / (HF + LF): HF = mean squared residual of Y after a 3×3 box blur,
///   LF = variance of the blurred Y (0 for a flat image).</item>
/// <item><b>Overall</b> = 0.35·Sharpness + 0.25·Diversity + 0.20·Balance + 0.20·(1 − Artifacts).</item>
/// </list>
/// </summary>
public sealed record QualityScore(double Sharpness, double Diversity, double Balance, double Artifacts, double LaplacianVariance)
{
    public double Overall => 0.35 * Sharpness + 0.25 * Diversity + 0.20 * Balance + 0.20 * (1 - Artifacts);

    public static QualityScore Compute(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width <= 0 || height <= 0 || rgb.Length != (long)width * height * 3)
            throw new NextStepException($"quality score: expected {width}×{height}×3 RGB bytes, got {rgb.Length}");
        var y = new double[width * height];
        var hist = new int[64];
        for (int i = 0; i < y.Length; i++)
        {
            byte r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
            y[i] = 0.299 * r + 0.587 * g + 0.114 * b;
            hist[(r >> 6) * 16 + (g >> 6) * 4 + (b >> 6)]++;
        }
        double lapVar = LaplacianVarianceOf(y, width, height);
        return new QualityScore(Math.Min(1.0, lapVar / 500.0), Entropy(hist, y.Length) / Math.Log(64),
            BalanceOf(y, width, height), ArtifactsOf(y, width, height), lapVar);
    }

    private static double LaplacianVarianceOf(double[] y, int w, int h)
    {
        if (w < 3 || h < 3) return 0;
        double sum = 0, sumSq = 0;
        long n = 0;
        for (int r = 1; r < h - 1; r++)
            for (int c = 1; c < w - 1; c++)
            {
                int i = r * w + c;
                double l = y[i - 1] + y[i + 1] + y[i - w] + y[i + w] - 4 * y[i];
                sum += l; sumSq += l * l; n++;
            }
        double mean = sum / n;
        return Math.Max(0, sumSq / n - mean * mean);
    }

    private static double Entropy(int[] hist, int total)
    {
        double e = 0;
        foreach (int count in hist)
            if (count > 0) { double p = (double)count / total; e -= p * Math.Log(p); }
        return e;
    }

    private static double BalanceOf(double[] y, int w, int h)
    {
        var cell = new double[9];
        var count = new int[9];
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                int i = r * w + c;
                double g = (c + 1 < w ? Math.Abs(y[i + 1] - y[i]) : 0) + (r + 1 < h ? Math.Abs(y[i + w] - y[i]) : 0);
                int k = Math.Min(2, 3 * r / h) * 3 + Math.Min(2, 3 * c / w);
                cell[k] += g; count[k]++;
            }
        for (int k = 0; k < 9; k++) cell[k] = count[k] == 0 ? 0 : cell[k] / count[k];
        double total = cell.Sum();
        if (total <= 0) return 1.0;
        double cx = 0, cy = 0;
        for (int k = 0; k < 9; k++) { cx += cell[k] * (k % 3 - 1); cy += cell[k] * (k / 3 - 1); }
        cx /= total; cy /= total;
        return 1.0 - Math.Min(1.0, Math.Sqrt(cx * cx + cy * cy) / Math.Sqrt(2));
    }

    private static double ArtifactsOf(double[] y, int w, int h)
    {
        double hf = 0, sum = 0, sumSq = 0;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                double acc = 0; int n = 0;
                for (int dr = -1; dr <= 1; dr++)
                    for (int dc = -1; dc <= 1; dc++)
                    {
                        int rr = r + dr, cc = c + dc;
                        if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue;
                        acc += y[rr * w + cc]; n++;
                    }
                double blurred = acc / n, residual = y[r * w + c] - blurred;
                hf += residual * residual; sum += blurred; sumSq += blurred * blurred;
            }
        int count = w * h;
        hf /= count;
        double mean = sum / count, lf = Math.Max(0, sumSq / count - mean * mean);
        return hf + lf <= 1e-12 ? 0 : hf / (hf + lf);
    }
}
