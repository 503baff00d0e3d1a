using NextStep.Imaging;
using NextStep.Training.Shapes;
using Xunit;

namespace NextStep.Tests.Shapes;

public sealed class ShapesDatasetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shapes-data-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ExportWritesPngCaptionAndJsonLinesThatReadBack()
    {
        ShapesDataset.Export(_dir, count: 12, seed: 7, size: 64);
        Assert.Equal(12, Directory.GetFiles(_dir, "*.png").Length);
        var entries = ShapesDataset.Read(_dir);
        var expected = ShapesDataset.Scenes(7, 12).ToArray();
        Assert.Equal(12, entries.Count);
        for (int i = 0; i < 12; i++)
        {
            var (file, scene) = entries[i];
            Assert.Equal($"{i:D6}.png", file);
            Assert.Equal(expected[i].Caption, scene.Caption);
            Assert.Equal(expected[i].Objects, scene.Objects);
            Assert.Equal(expected[i].Caption, File.ReadAllText(Path.Combine(_dir, $"{i:D6}.txt")));
            var png = ImageIO.Load(Path.Combine(_dir, file));
            Assert.Equal(ShapesRenderer.Render(expected[i]).Rgb, png.Rgb);
        }
    }

    [Fact]
    public void ScenesDependOnSeedAndIndexOnly()
    {
        Assert.Equal(ShapesDataset.Scenes(3, 5).Last().Caption, ShapesDataset.Scene(3, 4).Caption);
        Assert.NotEqual(ShapesDataset.Scenes(3, 20).Select(s => s.Caption), ShapesDataset.Scenes(4, 20).Select(s => s.Caption));
        Assert.DoesNotContain(ShapesDataset.Scenes(1, 500), ShapesSplits.ShowsHeldOut);
        Assert.All(ShapesDataset.Scenes(1, 50, ShapesSplit.HeldOut), s => Assert.True(ShapesSplits.ClaimsHeldOut(s.Spec)));
    }

    [Fact]
    public void BadArgumentsAreUserErrors()
    {
        Assert.Throws<NextStepException>(() => ShapesDataset.Export(_dir, 0, 1));
        Assert.Throws<NextStepException>(() => ShapesDataset.Export(_dir, 1, 1, size: 8));
        Assert.Throws<NextStepException>(() => ShapesDataset.Read(Path.Combine(_dir, "nothing")));
    }
}
