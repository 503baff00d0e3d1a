using System.Runtime.InteropServices;
using NextStep.Imaging;
using SkiaSharp;

namespace NextStep.Training.Shapes;

/// <summary>Small image helpers for the Shapes data: solid fills and Skia bitmaps (for drawing contact sheets).</summary>
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

    /// <summary>Writes a PNG (through <see cref="ImageIO.Save"/>).</summary>
    public static void SavePng(RgbImage image, string path) => ImageIO.Save(image, path);
}
