using System.Diagnostics;

namespace NextStep.Tests.Server;

/// <summary>Runs the <c>nextstep</c> CLI assembly next to the tests as a child process, its output going to a log file.</summary>
public static class CliProcess
{
    public static Process Start(string log, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "NextStep.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var writer = new StreamWriter(log) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => { lock (writer) if (e.Data is not null) writer.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (writer) if (e.Data is not null) writer.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>SIGKILL (what <see cref="Process.Kill()"/> sends on Linux), then waits for the exit.</summary>
    public static async Task KillHard(Process p)
    {
        if (p.HasExited) return;
        p.Kill();
        await p.WaitForExitAsync();
    }
}
