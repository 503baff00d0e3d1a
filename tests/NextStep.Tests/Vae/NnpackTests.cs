using NextStep.Model;
using NextStep.Tests.Server;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Vae;

/// <summary>
/// libtorch's NNPACK log line. On a CPU where NNPACK cannot start (these 2-core AMD EPYC machines), libtorch logs
/// "Could not initialize NNPACK! Reason: Unsupported hardware." before every convolution unless its use is turned off:
/// the README's main command printed 13 such lines. Where NNPACK starts the checks hold trivially.
/// </summary>
public sealed class NnpackTests
{
    private const string LogLine = "Could not initialize NNPACK";

    [Fact]
    public void UseIsTurnedOffOnlyWhereNnpackCannotStart()
    {
        var state = Nnpack.Ensure();
        Assert.Equal(state switch { NnpackState.Available => true, NnpackState.UnavailableTurnedOff => false, _ => (bool?)null }, Nnpack.IsEnabledInLibtorch());
        if (OperatingSystem.IsLinux()) Assert.NotEqual(NnpackState.NotChecked, state);
    }

    [Fact]
    public async Task GenerateWithTheDefaultModelPrintsNoNnpackLines()
    {
        var folder = Fixtures.DefaultModel;
        var dir = Directory.CreateTempSubdirectory("nextstep-nnpack-").FullName;
        var log = Path.Combine(dir, "generate.log");
        var p = CliProcess.Start(log, "generate", "--model", folder, "--prompt", "a red circle above a blue square",
            "--steps", "2", "--out", Path.Combine(dir, "x.png"));
        await p.WaitForExitAsync();
        await Task.Delay(200); // the last redirected lines
        var text = File.ReadAllText(log);
        Assert.True(p.ExitCode == 0, $"generate exited with {p.ExitCode}:\n{text}");
        Assert.True(File.Exists(Path.Combine(dir, "x.png")), text);
        Assert.DoesNotContain(LogLine, text);
    }
}
