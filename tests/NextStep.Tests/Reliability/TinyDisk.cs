using System.Diagnostics;

namespace NextStep.Tests.Reliability;

/// <summary>
/// A tiny tmpfs mounted on a temporary folder, to make writes fail with "no space left on device". Mounting needs
/// root (CI runs the tests as root); <see cref="TryMount"/> returns null where it is not allowed.
/// </summary>
public sealed class TinyDisk : IDisposable
{
    public string Folder { get; }
    private TinyDisk(string folder) { Folder = folder; }

    public static TinyDisk? TryMount(int kilobytes)
    {
        var folder = Directory.CreateTempSubdirectory("nextstep-tinydisk-").FullName;
        if (Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", folder)) return new TinyDisk(folder);
        Directory.Delete(folder);
        return null;
    }

    private static bool Run(string file, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>Grows (or shrinks) the disk in place, keeping its files.</summary>
    public void Resize(int kilobytes)
    {
        if (!Run("mount", "-o", $"remount,size={kilobytes}k", Folder)) throw new IOException($"cannot resize the tmpfs at {Folder}");
    }

    public void Dispose()
    {
        Run("umount", "-l", Folder);
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}
