namespace NextStep.Imaging;

/// <summary>An 8-bit RGB image, rows top to bottom, pixels interleaved (R, G, B): <c>Rgb[(y·Width + x)·3 + c]</c>.</summary>
public sealed record RgbImage
{
    public int Width { get; }
    public int Height { get; }
    public byte[] Rgb { get; }

    public RgbImage(int width, int height, byte[] rgb)
    {
        if (width <= 0 || height <= 0) throw new NextStepException($"image size {width}x{height}: width and height must be positive");
        if (rgb.Length != (long)width * height * 3)
            throw new NextStepException($"image {width}x{height}: expected {(long)width * height * 3} RGB bytes, got {rgb.Length}");
        Width = width; Height = height; Rgb = rgb;
    }
}
