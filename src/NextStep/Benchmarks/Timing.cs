using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Benchmarks;

/// <summary>One timed quantity: the median over the measured runs (after the warm-up runs) of wall and CPU time.</summary>
public sealed record Timing(double Ms, double MinMs, double CpuMs, int Runs, long TensorsPerRun)
{
    /// <summary>
    /// Runs <paramref name="body"/> <paramref name="warmup"/> times untimed, then <paramref name="runs"/> times timed.
    /// <see cref="TensorsPerRun"/> counts the TorchSharp tensor objects created by the last run (views included).
    /// </summary>
    public static Timing Measure(Action body, int warmup, int runs)
    {
        for (int i = 0; i < warmup; i++) Run(body);
        var wall = new List<double>();
        var cpu = new List<double>();
        long tensors = 0;
        for (int i = 0; i < runs; i++)
        {
            long before = CreatedTensors;
            double c0 = ProcessStats.CpuSeconds;
            var sw = Stopwatch.StartNew();
            Run(body);
            sw.Stop();
            cpu.Add((ProcessStats.CpuSeconds - c0) * 1e3);
            wall.Add(sw.Elapsed.TotalMilliseconds);
            tensors = CreatedTensors - before;
        }
        return new Timing(Median(wall), wall.Min(), Median(cpu), runs, tensors);
    }

    /// <summary>This thread's count of tensor objects created so far (TorchSharp's dispose-scope statistics).</summary>
    public static long CreatedTensors
    {
        get
        {
            var s = DisposeScopeManager.Statistics.TensorStatistics;
            return s.CreatedInScopeCount + s.CreatedOutsideScopeCount;
        }
    }

    public Timing Scale(double factor) => this with { Ms = Ms * factor, MinMs = MinMs * factor, CpuMs = CpuMs * factor };

    private static void Run(Action body)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        body();
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
