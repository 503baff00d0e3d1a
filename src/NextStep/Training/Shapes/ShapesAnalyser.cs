using NextStep.Imaging;
using static NextStep.Training.Shapes.ShapesVocabulary;

namespace NextStep.Training.Shapes;

/// <summary>Analyser thresholds. Colour distances are Euclidean in 0..255 RGB.</summary>
public sealed record ShapesAnalyserOptions
{
    /// <summary>A pixel farther than this from every object colour is background.</summary>
    public double MaxColorDistance { get; init; } = 120;
    /// <summary>Blobs smaller than this fraction of the image are noise.</summary>
    public double MinAreaFraction { get; init; } = 0.005;
    /// <summary>A blob whose best shape template overlaps it less than this (IoU) is not recognised as any shape.</summary>
    public double MinShapeIou { get; init; } = 0.6;
}

/// <summary>
/// How much of an object colour a pixel holds over a background: the projection of (pixel − background) onto
/// (colour − background), faint values (below 0.2, noise) cut to 0, capped at 1. The analyser's soft masks and
/// <see cref="ShapesVaeProbe"/> read pixels this way.
/// </summary>
internal readonly struct ColourShare((byte R, byte G, byte B) colour, (double R, double G, double B) background)
{
    private const double Faint = 0.2;
    private readonly double dr = colour.R - background.R, dg = colour.G - background.G, db = colour.B - background.B;
    private readonly double norm = (colour.R - background.R) * (colour.R - background.R) + (colour.G - background.G) * (colour.G - background.G)
                                   + (colour.B - background.B) * (colour.B - background.B);

    /// <summary>The share of the pixel at <paramref name="rgb"/>[0..3].</summary>
    public double Of(ReadOnlySpan<byte> rgb)
    {
        double a = ((rgb[0] - background.R) * dr + (rgb[1] - background.G) * dg + (rgb[2] - background.B) * db) / norm;
        return a < Faint ? 0 : Math.Min(1, a);
    }
}

/// <summary>A blob found in an image: as an object (box in image fractions), its size, and how well its shape fits.</summary>
public sealed record ShapeDetection(ShapeObject Object, int Pixels, double Iou, bool Recognised);

/// <summary>What the analyser saw: the background colour and every blob.</summary>
public sealed record ShapesAnalysis(ShapeColor Background, IReadOnlyList<ShapeDetection> Detections)
{
    /// <summary>The recognised objects, the input to <see cref="ShapesJudge"/>.</summary>
    public IReadOnlyList<ShapeObject> Objects => Detections.Where(d => d.Recognised).Select(d => d.Object).ToArray();
}

/// <summary>
/// Reads a Shapes image back into objects and scores it against a spec:
/// 1. background = palette colour nearest the median of the border pixels;
/// 2. each pixel is labelled with its nearest object colour when that is nearer than the measured background and
///    within <see cref="ShapesAnalyserOptions.MaxColorDistance"/>, else background;
/// 3. 4-connected components of labelled pixels (any colour, so noisy or fringed objects stay whole), tiny ones dropped;
/// 4. each component's colour is its majority label; its soft mask (how much of that colour each nearby pixel holds)
///    is compared with every <see cref="ShapeGeometry"/> template placed to match the mask's centroid and spread, and
///    the best soft IoU names the shape (below <see cref="ShapesAnalyserOptions.MinShapeIou"/>: not recognised);
/// 5. <see cref="ShapesJudge"/> checks the spec's claims against the recognised objects.
/// </summary>
public static class ShapesAnalyser
{
    private static readonly ShapesAnalyserOptions Defaults = new();

    public static ShapesVerdict Score(ShapesSpec spec, RgbImage image, ShapesAnalyserOptions? options = null)
    {
        var analysis = Analyse(image, options);
        return ShapesJudge.Judge(spec, analysis.Background, analysis.Objects);
    }

    public static ShapesAnalysis Analyse(RgbImage image, ShapesAnalyserOptions? options = null)
    {
        options ??= Defaults;
        var (bgRgb, background) = EstimateBackground(image);
        var labels = Label(image, bgRgb, background, options.MaxColorDistance);
        int minArea = Math.Max(4, (int)Math.Ceiling(options.MinAreaFraction * image.Width * image.Height));
        var detections = new List<ShapeDetection>();
        var (ids, blobs) = Components(labels, image.Width, image.Height);
        for (int id = 0; id < blobs.Count; id++)
            if (blobs[id].Count >= minArea) detections.Add(Describe(blobs[id], id, ids, labels, image, bgRgb, options.MinShapeIou));
        return new ShapesAnalysis(background, detections);
    }

    private static ((double R, double G, double B) Rgb, ShapeColor Color) EstimateBackground(RgbImage image)
    {
        int w = image.Width, h = image.Height, ring = Math.Max(1, Math.Min(w, h) / 32);
        var channels = new[] { new List<byte>(), new List<byte>(), new List<byte>() };
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                if (x >= ring && x < w - ring && y >= ring && y < h - ring) continue;
                for (int c = 0; c < 3; c++) channels[c].Add(image.Rgb[(y * w + x) * 3 + c]);
            }
        var median = channels.Select(l => { l.Sort(); return (double)l[l.Count / 2]; }).ToArray();
        var rgb = (median[0], median[1], median[2]);
        return (rgb, Enum.GetValues<ShapeColor>().MinBy(c => Distance2(Rgb(c), rgb)));
    }

    /// <summary>Per pixel: the index into <see cref="ObjectColors"/>, or -1 for background.</summary>
    private static int[] Label(RgbImage image, (double R, double G, double B) bgRgb, ShapeColor background, double maxDistance)
    {
        var labels = new int[image.Width * image.Height];
        var px = image.Rgb;
        double max2 = maxDistance * maxDistance;
        for (int i = 0; i < labels.Length; i++)
        {
            var p = ((double)px[i * 3], (double)px[i * 3 + 1], (double)px[i * 3 + 2]);
            double best = Math.Min(Distance2(bgRgb, p), max2);
            labels[i] = -1;
            for (int c = 0; c < ObjectColors.Length; c++)
            {
                if (ObjectColors[c] == background) continue;
                double d = Distance2(Rgb(ObjectColors[c]), p);
                if (d < best) { best = d; labels[i] = c; }
            }
        }
        return labels;
    }

    /// <summary>4-connected components of labelled pixels; <c>ids</c> gives each pixel's component (−1 for background).</summary>
    private static (int[] Ids, List<List<int>> Blobs) Components(int[] labels, int w, int h)
    {
        var ids = new int[labels.Length];
        Array.Fill(ids, -1);
        var blobs = new List<List<int>>();
        var stack = new Stack<int>();
        for (int start = 0; start < labels.Length; start++)
        {
            if (labels[start] < 0 || ids[start] >= 0) continue;
            var blob = new List<int>();
            ids[start] = blobs.Count;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int i = stack.Pop(), x = i % w, y = i / w;
                blob.Add(i);
                if (x > 0) Visit(i - 1);
                if (x < w - 1) Visit(i + 1);
                if (y > 0) Visit(i - w);
                if (y < h - 1) Visit(i + w);
            }
            blobs.Add(blob);
        }
        return (ids, blobs);

        void Visit(int j)
        {
            if (labels[j] >= 0 && ids[j] < 0) { ids[j] = blobs.Count; stack.Push(j); }
        }
    }

    private static ShapeDetection Describe(List<int> blob, int id, int[] ids, int[] labels, RgbImage image, (double R, double G, double B) bgRgb, double minIou)
    {
        int w = image.Width, h = image.Height;
        var votes = new int[ObjectColors.Length];
        int x0 = w, y0 = h, x1 = -1, y1 = -1;
        foreach (int i in blob)
        {
            votes[labels[i]]++;
            int x = i % w, y = i / w;
            x0 = Math.Min(x0, x); x1 = Math.Max(x1, x); y0 = Math.Min(y0, y); y1 = Math.Max(y1, y);
        }
        var color = ObjectColors[Array.IndexOf(votes, votes.Max())];
        // Window: the blob's box plus a few pixels, where faint edges and tips may lie.
        int pad = 2 + Math.Max(x1 - x0, y1 - y0) / 8;
        var win = new Window(Math.Max(0, x0 - pad), Math.Max(0, y0 - pad), Math.Min(w, x1 + pad + 1), Math.Min(h, y1 + pad + 1));
        var alpha = Alpha(image, ids, id, color, bgRgb, win);
        var moments = Moments.Of(alpha, win.Cols, win.Rows);
        var (shape, iou, box) = Kinds.Select(k =>
        {
            var box = TemplateMoments[(int)k].FitBox(moments);
            return (k, SoftIou(k, alpha, win, box), box);
        }).MaxBy(t => t.Item2);
        var obj = new ShapeObject(shape, color, (win.Left + box.X) / w, (win.Top + box.Y) / h, box.W / w, box.H / h);
        return new ShapeDetection(obj, blob.Count, iou, iou >= minIou);
    }

    private readonly record struct Window(int Left, int Top, int Right, int Bottom)
    {
        public int Cols => Right - Left;
        public int Rows => Bottom - Top;
    }

    /// <summary>
    /// Per window pixel, how much of the object colour it holds: the projection of (pixel − background) onto
    /// (object − background), clamped to 0..1. Pixels of other blobs count 0; faint values (noise) are cut to 0.
    /// </summary>
    private static float[] Alpha(RgbImage image, int[] ids, int id, ShapeColor color, (double R, double G, double B) bg, Window win)
    {
        var share = new ColourShare(Rgb(color), bg);
        var alpha = new float[win.Cols * win.Rows];
        for (int y = win.Top; y < win.Bottom; y++)
            for (int x = win.Left; x < win.Right; x++)
            {
                int i = y * image.Width + x;
                if (ids[i] >= 0 && ids[i] != id) continue;
                alpha[(y - win.Top) * win.Cols + (x - win.Left)] = (float)share.Of(image.Rgb.AsSpan(i * 3, 3));
            }
        return alpha;
    }

    /// <summary>Soft IoU between the alpha mask and a shape template drawn in the given box (window pixels).</summary>
    private static double SoftIou(ShapeKind kind, float[] alpha, Window win, (double X, double Y, double W, double H) box)
    {
        var t = ShapeGeometry.Coverage(kind, box.X, box.Y, box.W, box.H, 0, 0, win.Cols, win.Rows, 3);
        double inter = 0, union = 0;
        for (int i = 0; i < alpha.Length; i++)
        {
            inter += Math.Min(alpha[i], t[i]);
            union += Math.Max(alpha[i], t[i]);
        }
        return union == 0 ? 0 : inter / union;
    }

    /// <summary>Mass, centroid and standard deviations of a soft mask (or of a shape in its unit box).</summary>
    private readonly record struct Moments(double Mass, double MeanX, double MeanY, double StdX, double StdY)
    {
        public static Moments Of(float[] mass, int cols, int rows)
        {
            double m = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < cols; x++)
                {
                    double a = mass[y * cols + x], cx = x + 0.5, cy = y + 0.5;
                    m += a; sx += a * cx; sy += a * cy; sxx += a * cx * cx; syy += a * cy * cy;
                }
            if (m == 0) return new(0, 0, 0, 1, 1);
            double mx = sx / m, my = sy / m;
            return new(m, mx, my, Math.Sqrt(Math.Max(1e-9, sxx / m - mx * mx)), Math.Sqrt(Math.Max(1e-9, syy / m - my * my)));
        }

        /// <summary>For a unit-box template's moments: the box that gives the template the blob's centroid and spread.</summary>
        public (double X, double Y, double W, double H) FitBox(Moments blob)
        {
            double w = blob.StdX / StdX, h = blob.StdY / StdY;
            return (blob.MeanX - MeanX * w, blob.MeanY - MeanY * h, w, h);
        }
    }

    private const int TemplateResolution = 200;

    private static readonly Moments[] TemplateMoments = Kinds
        .Select(k =>
        {
            var m = Moments.Of(ShapeGeometry.Coverage(k, 0, 0, TemplateResolution, TemplateResolution, 0, 0, TemplateResolution, TemplateResolution, 1), TemplateResolution, TemplateResolution);
            return m with { MeanX = m.MeanX / TemplateResolution, MeanY = m.MeanY / TemplateResolution, StdX = m.StdX / TemplateResolution, StdY = m.StdY / TemplateResolution };
        })
        .ToArray();

    /// <summary>Squared Euclidean RGB distance (0..255 channels), the analyser's colour metric.</summary>
    internal static double Distance2((byte R, byte G, byte B) a, (double R, double G, double B) b) => Distance2((a.R, a.G, (double)a.B), b);

    private static double Distance2((double R, double G, double B) a, (double R, double G, double B) b)
        => (a.R - b.R) * (a.R - b.R) + (a.G - b.G) * (a.G - b.G) + (a.B - b.B) * (a.B - b.B);
}
