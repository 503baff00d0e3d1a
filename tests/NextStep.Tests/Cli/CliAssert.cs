using Xunit;

namespace NextStep.Tests.Cli;

public static class CliAssert
{
    /// <summary>A failed run: non-zero exit and exactly one line on stderr, "error: …" containing <paramref name="expected"/>.</summary>
    public static void OneLineError(int code, string stderr, string expected)
    {
        Assert.NotEqual(0, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one error line, got: {stderr}");
        Assert.StartsWith("error:", lines[0]);
        Assert.Contains(expected, lines[0]);
    }
}
