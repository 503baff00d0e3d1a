using SkiaSharp;

namespace NextStep.Training.Shapes;

/// <summary>An 8-bit RGB image, row-major, 3 bytes per pixel.</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    public static RgbImage Filled(int width, int height, (byte R, byte G, byte B) color)
    {
        if (width < 1 || height < 1) throw new NextStepException($"image size {width}x{height} is invalid (expected positive width and height)");
        var px = new byte[width * height * 3];
        for (int i = 0; i < px.Length; i += 3) { px[i] = color.R; px[i + 1] = color.G; px[i + 2] = color.B; }
        return new RgbImage(width, height, px);
    }

    public void Validate(string source)
    {
        if (Width < 1 || Height < 1 || Pixels is null || Pixels.Length != Width * Height * 3)
            throw new NextStepException($"{source}: image of {Width}x{Height} needs {Math.Max(0, Width * Height * 3)} RGB bytes, found {Pixels?.Length ?? 0}");
    }

    public SKBitmap ToBitmap()
    {
        var bmp = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[Width * Height * 4];
        for (int i = 0, j = 0; i < Pixels.Length; i += 3, j += 4) { rgba[j] = Pixels[i]; rgba[j + 1] = Pixels[i + 1]; rgba[j + 2] = Pixels[i + 2]; rgba[j + 3] = 255; }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bmp.GetPixels(), rgba.Length);
        return bmp;
    }

    public static RgbImage FromBitmap(SKBitmap source)
    {
        using var bmp = source.ColorType == SKColorType.Rgba8888 ? source.Copy() : source.Copy(SKColorType.Rgba8888);
        var rgba = new byte[bmp.Width * bmp.Height * 4];
        System.Runtime.InteropServices.Marshal.Copy(bmp.GetPixels(), rgba, 0, rgba.Length);
        var px = new byte[bmp.Width * bmp.Height * 3];
        for (int i = 0, j = 0; i < px.Length; i += 3, j += 4) { px[i] = rgba[j]; px[i + 1] = rgba[j + 1]; px[i + 2] = rgba[j + 2]; }
        return new RgbImage(bmp.Width, bmp.Height, px);
    }

    public byte[] Encode(SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 100)
    {
        using var bmp = ToBitmap();
        using var data = bmp.Encode(format, quality);
        return data.ToArray();
    }

    public void SavePng(string path) => File.WriteAllBytes(path, Encode());

    public static RgbImage Decode(byte[] bytes, string source)
    {
        using var bmp = SKBitmap.Decode(bytes) ?? throw new NextStepException($"{source}: not a readable image (PNG or JPEG expected)");
        return FromBitmap(bmp);
    }

    public static RgbImage Load(string path)
        => File.Exists(path) ? Decode(File.ReadAllBytes(path), path) : throw new NextStepException($"{path}: image file not found");
}
