using SkiaSharp;

namespace NextStep.Imaging;

/// <summary>Reads PNG/JPEG (and the other formats Skia decodes) into <see cref="RgbImage"/> and writes PNG or JPEG.</summary>
public static class ImageIO
{
    public const long MaxFileBytes = 64L * 1024 * 1024;
    public const int MaxSide = 8192;
    /// <summary>Largest decoded image (40 megapixels, e.g. 7744x5164): checked from the header before any pixel memory is allocated.</summary>
    public const long MaxPixels = 40_000_000;

    /// <summary>
    /// Decodes an image file to 8-bit RGB. Alpha is dropped without compositing and EXIF orientation is not applied
    /// (what PIL's <c>Image.open(..).convert("RGB")</c> gives).
    /// </summary>
    public static RgbImage Load(string path)
    {
        if (!File.Exists(path)) throw new NextStepException($"{path}: image file not found");
        var length = FileSize.Of(path);
        if (length > MaxFileBytes) throw new NextStepException($"{path}: {length} bytes is too large for an input image (limit {MaxFileBytes / (1024 * 1024)} MiB)");
        if (length == 0) throw new NextStepException($"{path}: the image file is empty");

        return Decode(File.ReadAllBytes(path), path);
    }

    /// <summary>Decodes encoded image bytes (PNG, JPEG, WebP) to 8-bit RGB like <see cref="Load"/>; <paramref name="what"/> names the source in errors.</summary>
    public static RgbImage Decode(byte[] bytes, string what)
    {
        if (bytes.Length == 0) throw new NextStepException($"{what}: the image data is empty");
        if (bytes.Length > MaxFileBytes) throw new NextStepException($"{what}: {bytes.Length} bytes is too large for an input image (limit {MaxFileBytes / (1024 * 1024)} MiB)");
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data) ?? throw new NextStepException($"{what}: not a readable image (expected PNG or JPEG)");
        var (w, h) = (codec.Info.Width, codec.Info.Height);
        if (w <= 0 || h <= 0 || w > MaxSide || h > MaxSide)
            throw new NextStepException($"{what}: image size {w}x{h} is outside the supported range (1..{MaxSide} per side)");
        if ((long)w * h > MaxPixels)
            throw new NextStepException($"{what}: image size {w}x{h} is {(long)w * h} pixels, over the limit of {MaxPixels} ({MaxPixels / 1_000_000} megapixels)");

        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        unsafe
        {
            fixed (byte* p = rgba)
            {
                var result = codec.GetPixels(info, (IntPtr)p);
                if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
                    throw new NextStepException($"{what}: the image data is corrupt ({result})");
            }
        }
        var rgb = new byte[w * h * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j]; rgb[i + 1] = rgba[j + 1]; rgb[i + 2] = rgba[j + 2];
        }
        return new RgbImage(w, h, rgb);
    }

    /// <summary>
    /// Writes PNG (<c>.png</c>) or JPEG (<c>.jpg</c>, <c>.jpeg</c>), chosen by the file extension. Generation
    /// parameters, when given, go into PNG text chunks, or for JPEG into a <c>.json</c> sidecar.
    /// </summary>
    public static void Save(RgbImage image, string path, ImageMetadata? metadata = null, int jpegQuality = 95)
    {
        var format = FormatOf(path);
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);

        var bytes = Encode(image, format, format == SKEncodedImageFormat.Png ? 100 : jpegQuality, path);
        try
        {
            if (metadata is not null && format == SKEncodedImageFormat.Png) bytes = metadata.EmbedInPng(bytes);
            File.WriteAllBytes(path, bytes);
            if (metadata is not null && format != SKEncodedImageFormat.Png) File.WriteAllText(System.IO.Path.ChangeExtension(path, ".json"), metadata.ToJson(indented: true));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NextStepException($"{path}: cannot write the image ({e.Message})");
        }
    }

    /// <summary>Encodes RGB pixels as PNG or JPEG bytes; <paramref name="what"/> names the destination in errors.</summary>
    public static byte[] Encode(RgbImage image, SKEncodedImageFormat format, int quality, string what)
    {
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; i < image.Rgb.Length; i += 3, j += 4)
        {
            rgba[j] = image.Rgb[i]; rgba[j + 1] = image.Rgb[i + 1]; rgba[j + 2] = image.Rgb[i + 2]; rgba[j + 3] = 255;
        }
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var skImage = SKImage.FromPixelCopy(info, rgba) ?? throw new NextStepException($"{what}: cannot build an image of {image.Width}x{image.Height}");
        using var encoded = skImage.Encode(format, quality) ?? throw new NextStepException($"{what}: encoding as {format} failed");
        return encoded.ToArray();
    }

    /// <summary>The output format for a path; an unknown extension is an error naming it.</summary>
    public static SKEncodedImageFormat FormatOf(string path) => System.IO.Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => SKEncodedImageFormat.Png,
        ".jpg" or ".jpeg" => SKEncodedImageFormat.Jpeg,
        var ext => throw new NextStepException($"{path}: unsupported output extension \"{ext}\" (expected .png, .jpg or .jpeg)"),
    };
}
