using NextStep.Imaging;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>Mutation passes over the image decoders (PNG and JPEG seeds): decode, or refuse with a clear error.</summary>
public sealed class ImageMutationTests
{
    [Theory]
    [InlineData("png", 2000, 31)]
    [InlineData("jpg", 2000, 32)]
    public void ImageMutantsDecodeOrAreRefused(string format, int count, int seed)
    {
        // The JPEG seed is the same photo written by ImageIO.Save at quality 90.
        var original = File.ReadAllBytes(format == "png" ? Fixtures.Path("tiny", "golden", "photo64.png") : RegressionTests.Data("photo64.jpg"));
        var (ok, refused) = Mutator.Run(original, count, seed, bytes => ImageIO.Decode(bytes, "mutant"));
        Assert.True(ok > 0 && refused > 0, $"accepted {ok}, refused {refused}");
    }
}
