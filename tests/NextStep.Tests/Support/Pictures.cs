using NextStep.Imaging;
using NextStep.Model;
using NextStep.Training.Shapes;
using TorchSharp;

namespace NextStep.Tests.Support;

/// <summary>Pictures for tests: mirror images written out by hand (to check the library, not reuse it), and renderer scenes through the committed VAE.</summary>
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

    /// <summary>Renderer scenes through the committed default model's VAE, without latent noise, as 8-bit pictures.</summary>
    public static List<RgbImage> ThroughDefaultVae(IReadOnlyList<ShapesScene> scenes)
    {
        using var vae = AutoencoderKL.Load(Path.Combine(Fixtures.DefaultModel, "vae"));
        using var pool = ShapesDetectorTrainer.SeenThroughVae(vae, scenes, 0);
        int height = (int)pool.shape[2], width = (int)pool.shape[3];
        return [.. Enumerable.Range(0, scenes.Count).Select(i => new RgbImage(width, height, pool[i].permute(1, 2, 0).contiguous().data<byte>().ToArray()))];
    }
}
