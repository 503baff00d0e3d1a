using NextStep.Imaging;

namespace NextStep.Tests.Support;

/// <summary>Picture helpers for tests, written out by hand so that they check the library rather than reuse it.</summary>
public static class Pictures
{
    /// <summary>The picture mirrored left to right: pixel x ↔ width − 1 − x.</summary>
    public static RgbImage Mirror(RgbImage im)
    {
        var o = new byte[im.Rgb.Length];
        for (int y = 0; y < im.Height; y++)
            for (int x = 0; x < im.Width; x++)
                for (int c = 0; c < 3; c++) o[(y * im.Width + x) * 3 + c] = im.Rgb[(y * im.Width + im.Width - 1 - x) * 3 + c];
        return new RgbImage(im.Width, im.Height, o);
    }
}
