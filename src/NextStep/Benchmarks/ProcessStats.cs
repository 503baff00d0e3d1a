using System.Runtime.InteropServices;

namespace NextStep.Benchmarks;

/// <summary>
/// Process-level measurements on Linux: resident memory from <c>/proc/self/status</c> (VmRSS, VmHWM = peak),
/// a peak reset through <c>/proc/self/clear_refs</c>, this process's CPU time (<c>CLOCK_PROCESS_CPUTIME_ID</c>, all
/// threads) and the physical core count. Elsewhere the memory values are 0 and the CPU time falls back to .NET's.
/// </summary>
public static class ProcessStats
{
    /// <summary>Current resident set size in bytes (0 when unknown).</summary>
    public static long RssBytes => StatusKb("VmRSS:") * 1024;

    /// <summary>Peak resident set size since start or the last <see cref="ResetPeak"/>, in bytes (0 when unknown).</summary>
    public static long PeakRssBytes => StatusKb("VmHWM:") * 1024;

    /// <summary>Resets the peak to the current RSS (Linux ≥ 4.0); returns false where the kernel does not allow it.</summary>
    public static bool ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>MemAvailable from <c>/proc/meminfo</c> in bytes (0 when unknown).</summary>
    public static long AvailableMemoryBytes => StatusKb("MemAvailable:", "/proc/meminfo") * 1024;

    private static long StatusKb(string key, string file = "/proc/self/status")
    {
        if (!File.Exists(file)) return 0;
        foreach (var line in File.ReadLines(file))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return long.Parse(line[key.Length..].Trim().Split(' ')[0]);
        return 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec ts);

    private const int ProcessCpuTimeId = 2;

    /// <summary>CPU seconds used by all threads of this process so far.</summary>
    public static double CpuSeconds
    {
        get
        {
            if (OperatingSystem.IsLinux() && ClockGetTime(ProcessCpuTimeId, out var ts) == 0) return ts.Seconds + ts.Nanoseconds * 1e-9;
            return System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        }
    }

    /// <summary>Physical cores (distinct package/core pairs in sysfs), else the logical processor count.</summary>
    public static int PhysicalCores
    {
        get
        {
            try
            {
                var cores = Directory.GetDirectories("/sys/devices/system/cpu", "cpu*")
                    .Where(d => File.Exists(Path.Combine(d, "topology", "core_id")))
                    .Select(d => File.ReadAllText(Path.Combine(d, "topology", "physical_package_id")).Trim() + ":" + File.ReadAllText(Path.Combine(d, "topology", "core_id")).Trim())
                    .Distinct().Count();
                if (cores > 0) return cores;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            return Environment.ProcessorCount;
        }
    }

    /// <summary>The 1-minute load average (0 when unknown): how busy the machine was while measuring.</summary>
    public static double LoadAverage
    {
        get
        {
            try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return 0; }
        }
    }
}
