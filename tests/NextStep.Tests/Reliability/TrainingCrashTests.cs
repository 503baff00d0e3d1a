using System.Diagnostics;
using NextStep.Loading;
using NextStep.Tests.Support;
using NextStep.Training;
using Xunit;
using Xunit.Abstractions;

namespace NextStep.Tests.Reliability;

/// <summary>
/// <c>nextstep train</c> killed with SIGKILL mid-run, while it writes a checkpoint, resumes from its last
/// complete checkpoint and continues exactly as a run that was never interrupted: same losses, same final weights.
/// </summary>
[Collection("Trainer")] // training runs set torch's thread count: never two at once
public sealed class TrainingCrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Steps = 8;
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-crash-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static TrainOptions Tiny(string outDir) => new()
    {
        ModelDir = Fixtures.TinyModel, ShapesCount = 6, ImageSize = 64, RowLength = 80, BatchSize = 1,
        OutDir = outDir, Steps = Steps, Lr = 2e-3, Seed = 7, LogEvery = 1000, Threads = 1, SaveEvery = 1,
    };

    /// <summary>The same run as <see cref="Tiny"/>, as a child process of the CLI.</summary>
    private static Process StartTrainProcess(string outDir)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "NextStep.Cli.dll"), "train", "--model", Fixtures.TinyModel, "--shapes", "6",
                     "--image-size", "64", "--row-length", "80", "--batch-size", "1", "--steps", $"{Steps}", "--lr", "2e-3", "--seed", "7",
                     "--threads", "1", "--save-every", "1", "--log-every", "1000", "--out", outDir })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    [Fact]
    public void AKilledRunResumesFromItsLastCheckpointWithIdenticalLosses()
    {
        var straight = new Trainer(Tiny(Path.Combine(_dir, "straight")), _ => { }).Run();

        var crashed = Path.Combine(_dir, "crashed");
        using (var p = StartTrainProcess(crashed))
        {
            var deadline = DateTime.UtcNow.AddSeconds(120);
            // Kill while the third checkpoint is being written (its temporary folder exists), the second complete.
            while (!Directory.Exists(Path.Combine(crashed, "checkpoint-3.tmp")))
            {
                Assert.False(p.HasExited, "the training process ended before its third checkpoint");
                Assert.True(DateTime.UtcNow < deadline, "no third checkpoint within 120 s");
                Thread.Sleep(1);
            }
            p.Kill(); // SIGKILL
            p.WaitForExit();
        }
        var folders = Directory.GetDirectories(crashed).Select(Path.GetFileName).Order().ToList();
        var complete = folders.Where(f => TrainCheckpoint.IsCheckpoint(Path.Combine(crashed, f!))).ToList();
        int last = complete.Select(f => int.Parse(f!["checkpoint-".Length..])).Max();
        output.WriteLine($"killed after step {last}; folders left: {string.Join(", ", folders)}");
        Assert.InRange(last, 2, Steps - 1);
        Assert.All(folders.Except(complete), f => Assert.EndsWith(".tmp", f)); // a half-written checkpoint is never taken for one

        var resumed = new Trainer(Tiny(crashed) with { ModelDir = null, ResumeDir = Path.Combine(crashed, $"checkpoint-{last}") }, _ => { }).Run();
        Assert.Equal(straight.Losses.Skip(last), resumed.Losses);
        using var a = SafeTensorsFile.Open(Path.Combine(straight.LastCheckpoint, "model.safetensors"));
        using var b = SafeTensorsFile.Open(Path.Combine(resumed.LastCheckpoint, "model.safetensors"));
        foreach (var name in a.Tensors.Keys)
        {
            using var x = a.Load(name);
            using var y = b.Load(name);
            Assert.True(x.equal(y).all().item<bool>(), $"{name} differs after the crash and resume");
        }
    }
}
