using System.CommandLine;
using System.Runtime.InteropServices;
using NextStep.Loading;
using NextStep.Model;
using TorchSharp;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep doctor</c>: checks the machine and a model folder, with a verdict and the fix for each problem.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model folder to validate (default: the embedded default model)" };
        var cmd = new Command("doctor", "Check the system (OS, .NET, libtorch, CPU, GPU, memory, disk) and a model folder") { model };
        cmd.SetAction(p =>
        {
            var output = p.InvocationConfiguration.Output;
            var results = SystemChecks();
            var folder = p.GetValue(model) ?? Pipeline.DefaultModel.PathOrNull();
            if (folder != null) results.AddRange(ModelFolderCheck.Run(folder));
            else results.Add(new("model", false, "no --model given and no default model found", "pass --model DIR"));
            foreach (var r in results)
            {
                output.WriteLine($"[{(r.Ok ? " ok " : "FAIL")}] {r.Name,-22} {r.Detail}");
                if (!r.Ok && r.Fix != null) output.WriteLine($"       fix: {r.Fix}");
            }
            int failed = results.Count(r => !r.Ok);
            output.WriteLine(failed == 0 ? "verdict: ready" : $"verdict: {failed} problem(s) found");
            return failed == 0 ? 0 : 1;
        });
        return cmd;
    }

    private static List<CheckResult> SystemChecks()
    {
        var r = new List<CheckResult>
        {
            new("os", true, $"{RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})"),
            new(".net", Environment.Version.Major >= 10, $".NET {Environment.Version}", "install the .NET 10 SDK"),
        };
        try
        {
            var version = typeof(torch).Assembly.GetName().Version;
            int threads = torch.get_num_threads();
            bool cuda = torch.cuda.is_available();
            r.Add(new("libtorch", true, $"TorchSharp {version}, {LibtorchSource() ?? "libtorch 2.10 CPU"}, {threads} intra-op threads"));
            r.Add(new("nnpack", true, Nnpack.Ensure() switch
            {
                NnpackState.Available => "NNPACK starts on this CPU (libtorch's default use kept)",
                NnpackState.UnavailableTurnedOff => "NNPACK cannot start on this CPU; libtorch's use of it is off, which silences its per-convolution warning",
                _ => "not checked on this platform",
            }));
            r.Add(new("gpu", true, cuda ? $"CUDA available, {torch.cuda.device_count()} device(s)" : "no CUDA device (CPU only; a CUDA libtorch can be used through NEXTSTEP_LIBTORCH, docs/training.md)"));
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException)
        {
            r.Add(new("libtorch", false, $"cannot load libtorch: {e.GetBaseException().Message}", "run scripts/setup.sh as root (installs libstdc++ with GLIBCXX_3.4.32)"));
        }
        r.Add(new("cpu", true, $"{Environment.ProcessorCount} logical cores"));
        var mem = MemInfo();
        if (mem is { } m)
            r.Add(new("memory", m.AvailableGb >= 2, $"{m.AvailableGb:F1} GiB available of {m.TotalGb:F1} GiB", "free memory: the tiny/default models need < 1 GiB, NextStep-1-Large int8 needs about 16 GiB"));
        var drive = new DriveInfo(Path.GetPathRoot(Path.GetFullPath("."))!);
        double freeGb = drive.AvailableFreeSpace / (double)(1L << 30);
        r.Add(new("disk", freeGb >= 1, $"{freeGb:F1} GiB free on {drive.Name}", "free disk space for outputs and models"));
        return r;
    }

    private static (double TotalGb, double AvailableGb)? MemInfo()
    {
        if (!File.Exists("/proc/meminfo")) return null;
        var lines = File.ReadAllLines("/proc/meminfo");
        double Kb(string key) => lines.Where(l => l.StartsWith(key + ":")).Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])).FirstOrDefault();
        return (Kb("MemTotal") / (1 << 20), Kb("MemAvailable") / (1 << 20));
    }

    private static string? LibtorchSource()
        => LoadedLibtorch.CpuLibraryPath() is { } path ? "libtorch from " + Path.GetDirectoryName(path) : null;
}
