using NextStep.Imaging;
using Xunit;

namespace NextStep.Tests.Imaging;

public class QualityScoreTests
{
    private static byte[] Image(int w, int h, Func<int, int, (byte, byte, byte)> pixel)
    {
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) { var (r, g, b) = pixel(x, y); int i = 3 * (y * w + x); rgb[i] = r; rgb[i + 1] = g; rgb[i + 2] = b; }
        return rgb;
    }

    [Fact]
    public void FlatImageHasNoSharpnessNoDiversityNoArtifactsAndIsBalanced()
    {
        var s = QualityScore.Compute(Image(32, 32, (_, _) => (128, 128, 128)), 32, 32);
        Assert.Equal(0, s.Sharpness, 12);
        Assert.Equal(0, s.Diversity);
        Assert.Equal(0, s.Artifacts, 12);
        Assert.Equal(1, s.Balance);
        Assert.Equal(0.20 + 0.20, s.Overall, 9);
    }

    [Fact]
    public void TwoEqualColourHalvesHaveDiversityOneSixth()
    {
        // Two of 64 histogram bins, each half the pixels: entropy ln 2, normalised by ln 64 = 1/6.
        var s = QualityScore.Compute(Image(32, 32, (x, _) => x < 16 ? ((byte)255, (byte)0, (byte)0) : ((byte)0, (byte)0, (byte)255)), 32, 32);
        Assert.Equal(1.0 / 6.0, s.Diversity, 12);
    }

    [Fact]
    public void CheckerboardIsSharpButFullOfHighFrequencyArtifacts()
    {
        var s = QualityScore.Compute(Image(16, 16, (x, y) => (x + y) % 2 == 0 ? ((byte)255, (byte)255, (byte)255) : ((byte)0, (byte)0, (byte)0)), 16, 16);
        // Interior Laplacian is ±4·255 everywhere: variance (1020)² ≫ 500.
        Assert.Equal(1020.0 * 1020.0, s.LaplacianVariance, 6);
        Assert.Equal(1, s.Sharpness);
        Assert.True(s.Artifacts > 0.9, $"artifacts {s.Artifacts}");
        Assert.True(s.Balance > 0.95, $"balance {s.Balance}"); // nearly symmetric energy (edge pixels have one neighbour less)
    }

    [Fact]
    public void EnergyInOneCornerIsUnbalanced()
    {
        var s = QualityScore.Compute(Image(30, 30, (x, y) => x < 10 && y < 10 && (x + y) % 2 == 0 ? ((byte)255, (byte)255, (byte)255) : ((byte)0, (byte)0, (byte)0)), 30, 30);
        Assert.True(s.Balance < 0.15, $"balance {s.Balance}");
    }

    [Fact]
    public void WrongBufferSizeIsAClearError()
    {
        var e = Assert.Throws<NextStepException>(() => QualityScore.Compute(new byte[10], 4, 4));
        Assert.Contains("4×4×3", e.Message);
    }
}
