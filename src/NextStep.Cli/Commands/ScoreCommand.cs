using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NextStep.Imaging;
using SkiaSharp;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep score IMAGE...</c>: the reference-free quality assessment of <see cref="QualityScore"/>.</summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "Image files (PNG, JPEG, WebP, ...)", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per image" };
        var cmd = new Command("score", "Score image quality: sharpness, colour diversity, composition balance, artifacts, overall") { images, json };
        cmd.SetAction(p =>
        {
            var output = p.InvocationConfiguration.Output;
            var inv = CultureInfo.InvariantCulture;
            if (!p.GetValue(json)) output.WriteLine("overall  sharp  divers balance artif  file");
            foreach (var path in p.GetValue(images)!)
            {
                var (rgb, w, h) = DecodeRgb(path);
                var s = QualityScore.Compute(rgb, w, h);
                if (p.GetValue(json))
                    output.WriteLine(JsonSerializer.Serialize(new { file = path, overall = s.Overall, sharpness = s.Sharpness, diversity = s.Diversity, balance = s.Balance, artifacts = s.Artifacts, laplacian_variance = s.LaplacianVariance }));
                else
                    output.WriteLine(string.Format(inv, "{0,7:F3} {1,6:F3} {2,6:F3} {3,7:F3} {4,6:F3}  {5}", s.Overall, s.Sharpness, s.Diversity, s.Balance, s.Artifacts, path));
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>Decodes any image SkiaSharp reads into packed RGB bytes.</summary>
    internal static (byte[] Rgb, int Width, int Height) DecodeRgb(string path)
    {
        if (!File.Exists(path)) throw new NextStepException($"{path}: file not found");
        using var bmp = SKBitmap.Decode(path) ?? throw new NextStepException($"{path}: not a readable image (PNG, JPEG, WebP, GIF or BMP expected)");
        using var rgba = bmp.Copy(SKColorType.Rgba8888) ?? throw new NextStepException($"{path}: cannot convert to RGB");
        var src = rgba.GetPixelSpan();
        var rgb = new byte[rgba.Width * rgba.Height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4) { rgb[i] = src[j]; rgb[i + 1] = src[j + 1]; rgb[i + 2] = src[j + 2]; }
        return (rgb, rgba.Width, rgba.Height);
    }
}
