using System.Runtime.InteropServices;
using NextStep.Imaging;
using SkiaSharp;

namespace NextStep.Training.Shapes;

/// <summary>Small image helpers for the Shapes data: solid fills and PNG/JPEG bytes through Skia.</summary>
public static class ShapesImages
{
    public static RgbImage Filled(int width, int height, (byte R, byte G, byte B) color)
    {
        var px = new byte[Math.Max(0, width * height * 3)];
        for (int i = 0; i < px.Length; i += 3) { px[i] = color.R; px[i + 1] = color.G; px[i + 2] = color.B; }
        return new RgbImage(width, height, px);
    }

    public static SKBitmap ToBitmap(RgbImage image)
    {
        var bmp = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; i < image.Rgb.Length; i += 3, j += 4) { rgba[j] = image.Rgb[i]; rgba[j + 1] = image.Rgb[i + 1]; rgba[j + 2] = image.Rgb[i + 2]; rgba[j + 3] = 255; }
        Marshal.Copy(rgba, 0, bmp.GetPixels(), rgba.Length);
        return bmp;
    }

    public static byte[] Encode(RgbImage image, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 100)
    {
        using var bmp = ToBitmap(image);
        using var data = bmp.Encode(format, quality);
        return data.ToArray();
    }

    public static void SavePng(RgbImage image, string path) => File.WriteAllBytes(path, Encode(image));

    public static RgbImage Decode(byte[] bytes, string source)
    {
        using var decoded = SKBitmap.Decode(bytes) ?? throw new NextStepException($"{source}: not a readable image (PNG or JPEG expected)");
        using var bmp = decoded.Copy(SKColorType.Rgba8888);
        var rgba = new byte[bmp.Width * bmp.Height * 4];
        Marshal.Copy(bmp.GetPixels(), rgba, 0, rgba.Length);
        var px = new byte[bmp.Width * bmp.Height * 3];
        for (int i = 0, j = 0; i < px.Length; i += 3, j += 4) { px[i] = rgba[j]; px[i + 1] = rgba[j + 1]; px[i + 2] = rgba[j + 2]; }
        return new RgbImage(bmp.Width, bmp.Height, px);
    }
}
