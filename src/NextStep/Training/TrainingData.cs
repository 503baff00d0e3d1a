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

    public static List<TrainingExample> FromFolder(string folder, int size, bool strict, Action<string> report)
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
                examples.Add(new TrainingExample(name, caption, CropToSquare(ImageIO.Load(path), size, path)));
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

    /// <summary>Resizes <paramref name="image"/> to cover size×size and center-crops it; smaller images are refused.</summary>
    public static RgbImage CropToSquare(RgbImage image, int size, string source)
    {
        if (image.Width < size || image.Height < size)
            throw new NextStepException($"{source}: image is {image.Width}x{image.Height}, smaller than the training size {size}x{size}");
        if (image.Width == size && image.Height == size) return image;
        double scale = Math.Max((double)size / image.Width, (double)size / image.Height);
        int w = Math.Max(size, (int)Math.Round(image.Width * scale)), h = Math.Max(size, (int)Math.Round(image.Height * scale));
        var resized = ImageResize.Bicubic(image, w, h);
        int left = (w - size) / 2, top = (h - size) / 2;
        var rgb = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
            Array.Copy(resized.Rgb, ((top + y) * w + left) * 3, rgb, y * size * 3, size * 3);
        return new RgbImage(size, size, rgb);
    }
}
