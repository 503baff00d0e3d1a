using System.Text.Json;
using NextStep.Training.Shapes;
using SkiaSharp;

namespace NextStep.Training;

/// <summary>One captioned training image, already cropped to the training size.</summary>
public sealed record TrainingExample(string Source, string Caption, RgbImage Image);

/// <summary>
/// Training images with captions: an image folder (captions from <c>captions.jsonl</c> / <c>metadata.jsonl</c> lines
/// {"file": …, "caption": …}, or a sidecar <c>NAME.txt</c> beside each image) or the procedural Shapes set. Images
/// are resized to cover size×size (high-quality cubic resampling) and center-cropped. A bad example (unreadable
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
                examples.Add(new TrainingExample(name, caption, CropToSquare(Decode(path), size, path)));
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

    /// <summary><paramref name="count"/> procedural Shapes scenes (scene i from seed + i), rendered at size×size.</summary>
    public static List<TrainingExample> FromShapes(int count, int seed, int size)
    {
        if (count <= 0) throw new NextStepException($"--shapes needs a positive number of images, found {count}");
        return Enumerable.Range(0, count).Select(i =>
        {
            var scene = ShapesSampler.Sample(unchecked(seed + i));
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

    /// <summary>Decodes an image file (any format SkiaSharp reads) to RGB; an unreadable file is a <see cref="NextStepException"/> naming it.</summary>
    public static RgbImage Decode(string path)
    {
        using var codec = SKCodec.Create(path);
        using var bitmap = codec is null ? null : SKBitmap.Decode(codec);
        if (bitmap is null) throw new NextStepException($"{path}: not a readable image (PNG, JPEG, WebP, GIF or BMP expected)");
        return RgbImage.FromBitmap(bitmap);
    }

    /// <summary>Resizes <paramref name="image"/> to cover size×size and center-crops it; smaller images are refused.</summary>
    public static RgbImage CropToSquare(RgbImage image, int size, string source)
    {
        if (image.Width < size || image.Height < size)
            throw new NextStepException($"{source}: image is {image.Width}x{image.Height}, smaller than the training size {size}x{size}");
        if (image.Width == size && image.Height == size) return image;
        double scale = Math.Max((double)size / image.Width, (double)size / image.Height);
        int w = Math.Max(size, (int)Math.Round(image.Width * scale)), h = Math.Max(size, (int)Math.Round(image.Height * scale));
        using var bitmap = image.ToBitmap();
        using var resized = bitmap.Resize(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKCubicResampler.Mitchell))
            ?? throw new NextStepException($"{source}: could not resize the image");
        using var cropped = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        if (!resized.ExtractSubset(cropped, SKRectI.Create((w - size) / 2, (h - size) / 2, size, size)))
            throw new NextStepException($"{source}: could not crop the image");
        return RgbImage.FromBitmap(cropped);
    }
}
