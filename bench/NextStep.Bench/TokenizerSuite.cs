using System.Diagnostics;
using System.Text;
using NextStep.Tokenization;

namespace NextStep.Bench;

/// <summary>
/// Encoding speed of the real-size (151k-token) Qwen2.5 tokenizer on about 1 MB of mixed-language text: a first pass
/// with an empty BPE cache, then passes with the cache filled (what a long-running process sees).
/// </summary>
public static class TokenizerSuite
{
    public static BenchResult Run(BenchOptions options)
    {
        var folder = Path.Combine(options.Fixtures, "tokenizer");
        var text = MixedCorpus.Generate(1_000_000);
        // Written out so that other implementations can be checked on the same text.
        Directory.CreateDirectory(options.OutDir);
        File.WriteAllText(Path.Combine(options.OutDir, "tokenizer_corpus.txt"), text);
        double megabytes = Encoding.UTF8.GetByteCount(text) / 1e6;

        var sw = Stopwatch.StartNew();
        var tokenizer = Qwen2Tokenizer.Load(folder);
        double loadMs = sw.Elapsed.TotalMilliseconds;

        var (tokens, cold, coldCpu) = Timed(() => tokenizer.Encode(text).Length);
        var warm = Enumerable.Range(0, 3).Select(_ => Timed(() => tokenizer.Encode(text).Length)).ToList();
        double best = warm.Min(w => w.Seconds);
        double bestCpu = warm.Min(w => w.CpuSeconds);

        Console.WriteLine($"tokenizer: loaded {tokenizer.VocabSize} tokens in {loadMs:F0} ms");
        Console.WriteLine($"tokenizer: {megabytes:F2} MB mixed text -> {tokens} tokens");
        Console.WriteLine($"tokenizer: first pass (empty cache) {tokens / cold:N0} tokens/s ({megabytes / cold:F2} MB/s)");
        Console.WriteLine($"tokenizer: cached passes (best of 3) {tokens / best:N0} tokens/s ({megabytes / best:F2} MB/s)");
        Console.WriteLine($"tokenizer: per CPU-second of this process (unaffected by other load): first pass {tokens / coldCpu:N0}, cached {tokens / bestCpu:N0} tokens/s");
        return new BenchResult("tokenizer", $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}", new Dictionary<string, double>
        {
            ["load_ms"] = Math.Round(loadMs, 1),
            ["text_mb"] = Math.Round(megabytes, 3),
            ["tokens"] = tokens,
            ["first_pass_tokens_per_s"] = Math.Round(tokens / cold),
            ["cached_tokens_per_s"] = Math.Round(tokens / best),
            ["cached_mb_per_s"] = Math.Round(megabytes / best, 3),
            ["first_pass_tokens_per_cpu_s"] = Math.Round(tokens / coldCpu),
            ["cached_tokens_per_cpu_s"] = Math.Round(tokens / bestCpu),
        });
    }

    /// <summary>Wall-clock and process CPU seconds of one call (CPU time shows the cost on a busy machine).</summary>
    private static (int Result, double Seconds, double CpuSeconds) Timed(Func<int> action)
    {
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        int result = action();
        double seconds = sw.Elapsed.TotalSeconds;
        process.Refresh();
        return (result, seconds, (process.TotalProcessorTime - cpu).TotalSeconds);
    }
}
