using NextStep.Imaging;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>Mutation passes over the image decoders (PNG and JPEG seeds): decode, or refuse with a clear error.</summary>
public sealed class ImageMutationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-mut-img-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("png", 2000, 31)]
    [InlineData("jpg", 2000, 32)]
    public void ImageMutantsDecodeOrAreRefused(string format, int count, int seed)
    {
        // The JPEG seed is the same photo written by ImageIO.Save at quality 90.
        var original = File.ReadAllBytes(format == "png" ? Fixtures.Path("tiny", "golden", "photo64.png") : RegressionTests.Data("photo64.jpg"));
        var path = Path.Combine(_dir, "seed." + format);
        var (ok, refused) = Mutator.Run(original, count, seed, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            ImageIO.Load(path);
        });
        Assert.True(ok > 0 && refused > 0, $"accepted {ok}, refused {refused}");
    }
}
