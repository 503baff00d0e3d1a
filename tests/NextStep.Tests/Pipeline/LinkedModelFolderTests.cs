using NextStep.Cli;
using NextStep.Imaging;
using NextStep.Loading;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Pipeline;

/// <summary>
/// A model folder made of symbolic links, as a Hugging Face cache snapshot is (<c>snapshots/REV/FILE</c> →
/// <c>../../blobs/SHA</c>): file sizes must be those of the targets, not of the links.
/// </summary>
[Xunit.Collection(GlobalRngCollection.Name)]
public class LinkedModelFolderTests
{
    /// <summary>The tiny checkpoint laid out like a Hugging Face cache: real files in blobs/, relative links in snapshots/rev/.</summary>
    private static string CacheSnapshot()
    {
        var root = Directory.CreateTempSubdirectory("hfcache").FullName;
        var blobs = Directory.CreateDirectory(Path.Combine(root, "blobs")).FullName;
        var snapshot = Path.Combine(root, "snapshots", "rev");
        int n = 0;
        foreach (var file in Directory.EnumerateFiles(Fixtures.TinyModel, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(Fixtures.TinyModel, file);
            var blob = Path.Combine(blobs, $"blob{n++}");
            File.Copy(file, blob);
            var link = Path.Combine(snapshot, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(link)!);
            File.CreateSymbolicLink(link, Path.GetRelativePath(Path.GetDirectoryName(link)!, blob));
        }
        return snapshot;
    }

    [Fact]
    public void GenerateFromALinkedSnapshotWritesTheGoldenPng()
    {
        var snapshot = CacheSnapshot();
        Assert.NotNull(new FileInfo(Path.Combine(snapshot, "model.safetensors")).LinkTarget);
        var outPath = Path.Combine(Directory.CreateTempSubdirectory("gen").FullName, "cfg.png");
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(["generate", "--model", snapshot, "--prompt", "a blue square on a black background",
            "--positive", "masterpiece, film grained, best quality.", "--negative", "lowres, blurry", "--size", "64x64",
            "--cfg", "7.5", "--steps", "5", "--seed", "3407", "--use-norm", "--sampler", "github2025", "--out", outPath], o, e);
        Assert.True(code == 0, e.ToString());
        PipelineGoldenTests.AssertImage("t2i_cfg from a linked snapshot", ImageIO.Load(Fixtures.Path("tiny", "golden", "t2i_cfg_0.png")).Rgb, ImageIO.Load(outPath));
    }

    [Fact]
    public void CheckReportsTheSizesOfTheLinkedFiles()
    {
        var snapshot = CacheSnapshot();
        var results = ModelFolderCheck.Run(snapshot);
        Assert.All(results, r => Assert.True(r.Ok, $"{r.Name}: {r.Detail}"));
        var vae = results.Single(r => r.Name == "vae/checkpoint.pt");
        Assert.Equal($"{new FileInfo(Path.Combine(Fixtures.TinyModel, "vae", "checkpoint.pt")).Length / 1e6:F1} MB", vae.Detail);
    }

    [Fact]
    public void ALinkedInputImageLoads()
    {
        var dir = Directory.CreateTempSubdirectory("img").FullName;
        var link = Path.Combine(dir, "photo.png");
        File.CreateSymbolicLink(link, Fixtures.Path("tiny", "golden", "photo64.png"));
        var direct = ImageIO.Load(Fixtures.Path("tiny", "golden", "photo64.png"));
        var linked = ImageIO.Load(link);
        Assert.Equal((direct.Width, direct.Height), (linked.Width, linked.Height));
        Assert.Equal(direct.Rgb, linked.Rgb);
    }

    [Fact]
    public void FileSizeFollowsLinks()
    {
        var dir = Directory.CreateTempSubdirectory("size").FullName;
        var target = Path.Combine(dir, "target.bin");
        File.WriteAllBytes(target, new byte[1000]);
        var link = Path.Combine(dir, "link.bin");
        File.CreateSymbolicLink(link, target);
        Assert.Equal(1000, FileSize.Of(link));
        Assert.Equal(1000, FileSize.Of(target));
    }
}
