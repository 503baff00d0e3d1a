using NextStep.Imaging;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Cli;

public class InfoScoreDoctorTests
{
    [Fact]
    public void InfoPrintsStoredParameters()
    {
        var dir = Directory.CreateTempSubdirectory("info");
        var path = Path.Combine(dir.FullName, "a.png");
        var meta = new ImageMetadata { Prompt = "a yellow circle", Seed = 11, Steps = 3, Cfg = 2, Width = 32, Height = 96 };
        File.WriteAllBytes(path, meta.EmbedInPng(File.ReadAllBytes(Fixtures.Path("tiny", "golden", "t2i_wide_0.png"))));
        var (code, stdout, _) = CliRunner.Run("info", path);
        Assert.Equal(0, code);
        Assert.Contains("a yellow circle", stdout);
        Assert.Contains("Seed: 11, Size: 32x96", stdout);
        (code, stdout, _) = CliRunner.Run("info", "--json", path);
        Assert.Equal(meta, ImageMetadata.FromJson(stdout.Trim(), "stdout"));
        dir.Delete(true);
    }

    [Fact]
    public void InfoOnAnImageWithoutParametersFailsWithOneLine()
    {
        var (code, _, err) = CliRunner.Run("info", Fixtures.Path("tiny", "golden", "t2i_cfg_0.png"));
        Assert.NotEqual(0, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("no NextStep generation parameters", err);
    }

    [Fact]
    public void ScoreRanksASharpImageAboveItsBlurredCopy()
    {
        var (code, stdout, _) = CliRunner.Run("score", "--json", Fixtures.Path("tiny", "golden", "photo64.png"));
        Assert.Equal(0, code);
        Assert.Contains("\"overall\":", stdout);
        var (c2, _, err) = CliRunner.Run("score", "/nonexistent.png");
        Assert.NotEqual(0, c2);
        Assert.Contains("/nonexistent.png: file not found", err);
    }

    [Fact]
    public void DoctorPassesOnTheTinyModelAndNamesTheProblemOnABrokenOne()
    {
        var (code, stdout, _) = CliRunner.Run("doctor", "--model", Fixtures.TinyModel);
        Assert.Equal(0, code);
        Assert.Contains("verdict: ready", stdout);
        // The libtorch line names the folder the loaded libtorch_cpu.so came from (read from /proc/self/maps on Linux).
        var libtorch = stdout.Split('\n').Single(l => l.Contains("TorchSharp "));
        if (OperatingSystem.IsLinux())
        {
            string folder = libtorch[(libtorch.IndexOf("libtorch from ", StringComparison.Ordinal) + "libtorch from ".Length)..].Split(',')[0];
            Assert.True(File.Exists(Path.Combine(folder, "libtorch_cpu.so")), libtorch);
        }

        var dir = Directory.CreateTempSubdirectory("doctor");
        Fixtures.CopyTinyModelFiles(dir.FullName);
        var st = Path.Combine(dir.FullName, "model.safetensors");
        var bytes = File.ReadAllBytes(st);
        File.WriteAllBytes(st, bytes[..(bytes.Length - 100)]);
        (code, stdout, _) = CliRunner.Run("doctor", "--model", dir.FullName);
        Assert.Equal(1, code);
        Assert.Contains("truncated file", stdout);
        Assert.Contains("vae/checkpoint.pt", stdout);
        Assert.Contains("problem(s) found", stdout);
        dir.Delete(true);
    }
}
