using NextStep.Cli;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Training;

/// <summary><c>nextstep train</c> end to end through <see cref="CliApp.Run"/>.</summary>
[Collection(GlobalRngCollection.Name)] // the preview samples with the global generator; this also keeps the thread-count change alone
public class TrainCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void TrainsAndSavesWithProgressAndPreview()
    {
        string dir = Path.Combine(Path.GetTempPath(), "nextstep-traincli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, output, err) = Run("train", "--model", Fixtures.TinyModel, "--shapes", "4", "--image-size", "64", "--out", dir,
                "--steps", "4", "--warmup", "2", "--schedule", "cosine", "--log-every", "2", "--row-length", "80", "--threads", "1",
                "--sample-every", "4", "--sample-steps", "2", "--sample-cfg", "1");
            Assert.True(code == 0, err);
            Assert.Contains("step 2/4", output);
            Assert.Contains("lr 5.00E-005", output);
            Assert.Contains("steps/s", output);
            Assert.True(File.Exists(Path.Combine(dir, "samples", "step-000004.png")));
            Assert.True(File.Exists(Path.Combine(dir, "checkpoint-4", "model.safetensors")));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void MissingDataAndBadScheduleAreUserErrors()
    {
        var (code, _, err) = Run("train", "--model", Fixtures.TinyModel, "--out", "unused");
        Assert.Equal(1, code);
        Assert.Contains("--data DIR or --shapes N", err);
        (code, _, err) = Run("train", "--model", Fixtures.TinyModel, "--shapes", "2", "--out", "unused", "--schedule", "linear");
        Assert.Equal(1, code);
        Assert.Contains("unknown learning-rate schedule \"linear\"", err);
    }
}
