using NextStep.Imaging;
using SkiaSharp;

namespace NextStep.Training.Shapes;

/// <summary>A grid of images, each framed green (correct) or red (wrong), with its number and caption underneath.</summary>
public static class ShapesContactSheet
{
    private const int Columns = 8, Cell = 128, Border = 3, TextLines = 4, LineHeight = 12;

    public static void Write(string path, IReadOnlyList<(RgbImage Image, string Caption, bool Correct)> items)
    {
        if (items.Count == 0) return;
        int rows = (items.Count + Columns - 1) / Columns, cellH = Cell + TextLines * LineHeight + 6;
        using var surface = SKSurface.Create(new SKImageInfo(Columns * Cell, rows * cellH, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = new SKFont(SKTypeface.Default, 10);
        using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var frame = new SKPaint();
        using var sampling = new SKPaint();
        for (int i = 0; i < items.Count; i++)
        {
            var (image, caption, correct) = items[i];
            float x = i % Columns * Cell, y = i / Columns * cellH;
            frame.Color = correct ? new SKColor(30, 160, 60) : new SKColor(210, 40, 40);
            canvas.DrawRect(x, y, Cell, Cell, frame);
            using var bmp = ShapesImages.ToBitmap(image);
            using var img = SKImage.FromBitmap(bmp);
            canvas.DrawImage(img, new SKRect(x + Border, y + Border, x + Cell - Border, y + Cell - Border), new SKSamplingOptions(SKFilterMode.Nearest), sampling);
            var lines = Wrap($"{i} {caption}", font, Cell - 4);
            for (int l = 0; l < Math.Min(TextLines, lines.Count); l++)
                canvas.DrawText(lines[l], x + 2, y + Cell + LineHeight * (l + 1), SKTextAlign.Left, font, text);
        }
        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    private static List<string> Wrap(string s, SKFont font, float width)
    {
        var lines = new List<string>();
        var line = "";
        foreach (var word in s.Split(' '))
        {
            var candidate = line.Length == 0 ? word : line + " " + word;
            if (line.Length > 0 && font.MeasureText(candidate) > width) { lines.Add(line); line = word; }
            else line = candidate;
        }
        if (line.Length > 0) lines.Add(line);
        return lines;
    }
}
