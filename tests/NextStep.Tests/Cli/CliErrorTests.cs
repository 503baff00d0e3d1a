using Xunit;

namespace NextStep.Tests.Cli;

/// <summary>Every command answers unknown flags and missing files with one "error:" line and a non-zero exit.</summary>
public class CliErrorTests
{
    [Theory]
    [InlineData("generate")]
    [InlineData("edit")]
    [InlineData("batch")]
    [InlineData("info")]
    [InlineData("score")]
    [InlineData("doctor")]
    [InlineData("tokenize")]
    public void UnknownFlagsExitWithCodeTwo(string command)
    {
        var (code, stdout, stderr) = CliRunner.Run(command, "--no-such-flag");
        Assert.Equal(2, code);
        CliAssert.OneLineError(code, stderr, "--no-such-flag");
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("info", "/nonexistent/x.png")]
    [InlineData("score", "/nonexistent/x.png")]
    [InlineData("tokenize", "--model", "/nonexistent/model", "hello")]
    [InlineData("grow", "--model", "/nonexistent/model", "--out", "/nonexistent/grown", "--after", "1")]
    [InlineData("average", "--model", "/nonexistent/a", "--model", "/nonexistent/b", "--out", "/nonexistent/mean")]
    [InlineData("train-judge", "--model", "/nonexistent/model", "--steps", "3")]
    [InlineData("train-detector", "--model", "/nonexistent/model", "--steps", "3")]
    [InlineData("probe-vae", "--vae", "/nonexistent/vae")]
    public void MissingFilesAreOneLineErrors(params string[] args)
    {
        var (code, _, stderr) = CliRunner.Run(args);
        CliAssert.OneLineError(code, stderr, "/nonexistent/");
    }

    [Theory]
    [InlineData("--split", "held-out", "--split \"held-out\": expected \"train\" or \"all\"")]
    [InlineData("--recolor", "1.5", "--recolor 1.5: expected a probability in [0, 1]")]
    [InlineData("--recolor", "-0.5", "--recolor -0.5: expected a probability in [0, 1]")]
    [InlineData("--strokes", "2", "--strokes 2: expected a probability in [0, 1]")]
    [InlineData("--burrs", "1.5", "--burrs 1.5: expected a probability in [0, 1]")]
    public void TrainVaeNamesABadDataOption(string option, string value, string expected)
    {
        var (code, stdout, stderr) = CliRunner.Run("train-vae", "--out", "/nonexistent/vae", option, value);
        CliAssert.OneLineError(code, stderr, expected);
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("--background", "pink", "--background \"pink\": expected gray, white or black")]
    [InlineData("--objects", "0", "--objects 0: expected at least 1")]
    public void ProbeVaeNamesABadSetting(string option, string value, string expected)
    {
        var (code, stdout, stderr) = CliRunner.Run("probe-vae", option, value);
        CliAssert.OneLineError(code, stderr, expected);
        Assert.Equal("", stdout);
    }

    [Fact]
    public void TrainJudgeNamesABadSetting()
    {
        var (code, stdout, stderr) = CliRunner.Run("train-judge", "--model", "/nonexistent/model", "--steps", "0");
        CliAssert.OneLineError(code, stderr, "match head training: expected steps, pairs per step and pool pairs ≥ 1");
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("--recolor", "1.5")]
    [InlineData("--steps", "0")]
    [InlineData("--latent-noise", "-1")]
    public void TrainDetectorNamesABadSetting(string option, string value)
    {
        var (code, stdout, stderr) = CliRunner.Run("train-detector", "--model", "/nonexistent/model", option, value);
        CliAssert.OneLineError(code, stderr, "detector training: expected steps, batch and pool ≥ 1, first scene, warm-up and latent noise ≥ 0, a positive learning rate and a recolour fraction in [0, 1]");
        Assert.Equal("", stdout);
    }

    [Fact]
    public void GrowNamesALayerListItCannotRead()
    {
        var (code, _, stderr) = CliRunner.Run("grow", "--model", "/nonexistent/model", "--out", "/nonexistent/grown", "--after", "1,x");
        CliAssert.OneLineError(code, stderr, "--after 1,x: 'x' is not an index");
        (code, _, stderr) = CliRunner.Run("grow", "--model", "/nonexistent/model", "--out", "/nonexistent/grown", "--head-after", "0;1");
        CliAssert.OneLineError(code, stderr, "--head-after 0;1: '0;1' is not an index");
    }

    [Fact]
    public void CastNamesADtypeItDoesNotKnow()
    {
        var (code, _, stderr) = CliRunner.Run("cast", "--model", "/nonexistent/model", "--out", "/nonexistent/half", "--vae-dtype", "half");
        CliAssert.OneLineError(code, stderr, "--vae-dtype half: expected float32, float16 or bfloat16");
        (code, _, stderr) = CliRunner.Run("cast", "--model", "/nonexistent/model", "--out", "/nonexistent/half", "--dtype", "float16");
        CliAssert.OneLineError(code, stderr, "/nonexistent/model: config.json not found");
    }

    [Fact]
    public void TrainDefaultChecksTheDeviceBeforeWritingAnything()
    {
        string[] common = ["train-default", "--vae", "/nonexistent/vae", "--tokenizer", "/nonexistent/tok", "--out", "/nonexistent/out"];
        var (code, _, stderr) = CliRunner.Run([.. common, "--device", "tpu"]);
        CliAssert.OneLineError(code, stderr, "device \"tpu\": expected cpu or cuda");
        if (TorchSharp.torch.cuda.is_available()) return;
        (code, _, stderr) = CliRunner.Run([.. common, "--device", "cuda"]);
        CliAssert.OneLineError(code, stderr, "no CUDA device is available");
    }

    [Fact]
    public void DoctorReportsAMissingModelFolderAsAProblem()
    {
        var (code, stdout, _) = CliRunner.Run("doctor", "--model", "/nonexistent/model");
        Assert.Equal(1, code);
        Assert.Contains("/nonexistent/model", stdout);
        Assert.Contains("problem(s) found", stdout);
    }
}
