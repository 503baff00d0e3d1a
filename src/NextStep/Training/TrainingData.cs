using System.Text.Json;
using NextStep.Imaging;
using NextStep.Training.Shapes;

namespace NextStep.Training;

/// <summary>One captioned training image, already cropped to the training size.</summary>
public sealed record TrainingExample(string Source, string Caption, RgbImage Image);

/// <summary>
/// Training images with captions: an image folder (captions from <c>captions.jsonl</c> / <c>metadata.jsonl</c> lines
/// {"file": …, "caption": …}, or a sidecar <c>NAME.txt</c> beside each image) or the procedural Shapes set. Images
/// are resized to cover size×size (Pillow-style bicubic) and center-cropped. A bad example (unreadable
/// image, missing or empty caption, image smaller than the training size) is reported with its file name and
/// skipped, or refused when <c>strict</c>.
/// </summary>
public static class TrainingData
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"];
    private static readonly string[] CaptionFiles = ["captions.jsonl", "metadata.jsonl"];

    public static List<TrainingExample> FromFolder(string folder, int size, bool strict, Action<string> report, bool multiAspect = false)
    {
        if (!Directory.Exists(folder)) throw new NextStepException($"{folder}: data folder not found");
        var captions = ReadCaptionFile(folder, strict, report);
        var examples = new List<TrainingExample>();
        var images = Directory.EnumerateFiles(folder)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToList();
        foreach (var path in images)
        {
            string name = Path.GetFileName(path);
            try
            {
                string caption = captions.TryGetValue(name, out var c) ? c : ReadSidecar(path);
                examples.Add(new TrainingExample(name, caption, Crop(ImageIO.Load(path), size, multiAspect, path)));
            }
            catch (NextStepException e)
            {
                if (strict) throw;
                report($"skipped {e.Message}");
            }
        }
        foreach (var missing in captions.Keys.Where(k => !images.Any(i => Path.GetFileName(i) == k)))
        {
            string message = $"{Path.Combine(folder, missing)}: listed in the caption file but no such image";
            if (strict) throw new NextStepException(message);
            report($"skipped {message}");
        }
        if (examples.Count == 0) throw new NextStepException($"{folder}: no usable captioned images (expected *.png/*.jpg with captions.jsonl or NAME.txt captions)");
        return examples;
    }

    /// <summary>The first <paramref name="count"/> scenes of the Shapes training split with this seed, rendered at size×size.</summary>
    public static List<TrainingExample> FromShapes(int count, int seed, int size)
    {
        if (count <= 0) throw new NextStepException($"--shapes needs a positive number of images, found {count}");
        return Enumerable.Range(0, count).Select(i =>
        {
            var scene = ShapesDataset.Scene(seed, i);
            return new TrainingExample($"shapes-{i}", scene.Caption, ShapesRenderer.Render(scene, size, size));
        }).ToList();
    }

    private static Dictionary<string, string> ReadCaptionFile(string folder, bool strict, Action<string> report)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var file = CaptionFiles.Select(f => Path.Combine(folder, f)).FirstOrDefault(File.Exists);
        if (file is null) return result;
        int lineNo = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                string? name = null, caption = null;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    foreach (var key in new[] { "file", "file_name", "image" })
                        if (root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String) { name = v.GetString(); break; }
                    foreach (var key in new[] { "caption", "text", "prompt" })
                        if (root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String) { caption = v.GetString(); break; }
                }
                if (string.IsNullOrEmpty(name) || string.IsNullOrWhiteSpace(caption))
                    throw new NextStepException($"{file}:{lineNo}: expected {{\"file\": \"NAME\", \"caption\": \"TEXT\"}} with a non-empty caption");
                result[Path.GetFileName(name)] = caption!;
            }
            catch (JsonException e)
            {
                var err = new NextStepException($"{file}:{lineNo}: not valid JSON ({e.Message})");
                if (strict) throw err;
                report($"skipped {err.Message}");
            }
            catch (NextStepException e)
            {
                if (strict) throw;
                report($"skipped {e.Message}");
            }
        }
        return result;
    }

    private static string ReadSidecar(string imagePath)
    {
        string txt = Path.ChangeExtension(imagePath, ".txt");
        if (!File.Exists(txt)) throw new NextStepException($"{imagePath}: no caption (no {Path.GetFileName(txt)} and no entry in captions.jsonl)");
        string caption = File.ReadAllText(txt).Trim();
        if (caption.Length == 0) throw new NextStepException($"{txt}: the caption is empty");
        return caption;
    }

    /// <summary>
    /// The official aspect bucket of an image: the (h, w) entry of the aspect table (a 16×16-token base) nearest to its
    /// height/width, scaled to <paramref name="size"/>: (round(size·h/256), round(size·w/256)) tokens of 16 px.
    /// </summary>
    public static (int Height, int Width) Bucket(int width, int height, int size)
    {
        double ratio = (double)height / width;
        var (h, w) = NextStep.Pipeline.Presets.HwAspectRatios.MinBy(a => Math.Abs(ratio - (double)a.H / a.W));
        int Tokens(int t) => Math.Max(1, (int)Math.Round(size * t / 256.0, MidpointRounding.ToEven));
        return (Tokens(h) * 16, Tokens(w) * 16);
    }

    /// <summary>Resizes <paramref name="image"/> to cover its target (size×size, or its aspect bucket) and center-crops it; smaller images are refused.</summary>
    public static RgbImage Crop(RgbImage image, int size, bool multiAspect, string source)
    {
        var (th, tw) = multiAspect ? Bucket(image.Width, image.Height, size) : (size, size);
        if (image.Width < tw || image.Height < th)
            throw new NextStepException($"{source}: image is {image.Width}x{image.Height}, smaller than the training size {tw}x{th}");
        if (image.Width == tw && image.Height == th) return image;
        double scale = Math.Max((double)tw / image.Width, (double)th / image.Height);
        int w = Math.Max(tw, (int)Math.Round(image.Width * scale)), h = Math.Max(th, (int)Math.Round(image.Height * scale));
        var resized = ImageResize.Bicubic(image, w, h);
        int left = (w - tw) / 2, top = (h - th) / 2;
        var rgb = new byte[tw * th * 3];
        for (int y = 0; y < th; y++)
            Array.Copy(resized.Rgb, ((top + y) * w + left) * 3, rgb, y * tw * 3, tw * 3);
        return new RgbImage(tw, th, rgb);
    }
}
