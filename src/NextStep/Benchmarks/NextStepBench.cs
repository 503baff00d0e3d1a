using NextStep.Config;
using NextStep.Model;
using NextStep.Pipeline;
using NextStep.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Benchmarks;

/// <summary>What <see cref="NextStepBench.Run"/> measures (see <c>nextstep bench --help</c>).</summary>
public sealed record BenchOptions
{
    public static IReadOnlyList<string> AllSuites { get; } = ["load", "prefill", "decode", "head", "vae", "image", "pipeline"];

    public string Shape { get; init; } = "medium";
    /// <summary>A model folder to bench instead of random weights of <see cref="Shape"/>.</summary>
    public string? ModelFolder { get; init; }
    public ScalarType DType { get; init; } = ScalarType.Float32;
    public bool Int8 { get; init; }
    public string Device { get; init; } = "cpu";
    public int Threads { get; init; } = ProcessStats.PhysicalCores;
    public IReadOnlyList<string> Suites { get; init; } = AllSuites;
    public int Warmup { get; init; } = 1;
    public int Runs { get; init; } = 3;
    /// <summary>Image tokens the whole-image loop generates (null = all tokens of <see cref="ImageSize"/>); the rest is extrapolated.</summary>
    public int? Tokens { get; init; }
    public int ImageSize { get; init; } = 256;
    public int PromptLength { get; init; } = 96;
    public int Steps { get; init; } = 28;
    public double Cfg { get; init; } = 7.5;
    /// <summary>Best of K in the pipeline suite (<see cref="Pipeline.GenerationRequest.Candidates"/>).</summary>
    public int Candidates { get; init; } = 1;
    public long Seed { get; init; }
    /// <summary>Where the load suite writes its temporary checkpoints.</summary>
    public string Scratch { get; init; } = Path.GetTempPath();
}

/// <summary>One measured quantity; <see cref="Metrics"/> holds derived values (per token, per image, tokens/s, …).</summary>
public sealed record BenchEntry(string Name, string Suite, Timing Timing, long PeakRssBytes, IReadOnlyDictionary<string, double> Metrics);

public sealed record BenchReport(
    string Shape, string DType, bool Int8, string Device, int Threads, int PhysicalCores, double LoadAverageStart, double LoadAverageEnd,
    long ParameterBytes, long PeakRssBytes, IReadOnlyDictionary<string, long> ModelShape, IReadOnlyList<BenchEntry> Entries,
    IReadOnlyList<LoadResult> Loads);

/// <summary>
/// Times the model's parts on random weights of a given shape (or a model folder): prefill (B = 2), one decode step
/// (B = 2 and 8), the flow-matching head's sample call (28 and 50 steps, one image with CFG), VAE decode (256 and
/// 512 px), a whole image the way the official loop makes it (prefill, then per token: image_out_projector, head
/// sample, image_in_projector, a decode step of both CFG rows; then the VAE) and, for a model folder, one real
/// pipeline call. Every time is the median of
/// <see cref="BenchOptions.Runs"/> runs after <see cref="BenchOptions.Warmup"/> untimed ones, as wall and CPU time;
/// peak RSS is VmHWM, reset before each suite where the kernel allows it.
/// </summary>
public static class NextStepBench
{
    public static BenchReport Run(BenchOptions o, TextWriter? log = null)
    {
        foreach (var s in o.Suites)
            if (!BenchOptions.AllSuites.Contains(s)) throw new NextStepException($"--suite \"{s}\" is unknown (expected a comma-separated subset of: {string.Join(", ", BenchOptions.AllSuites)}, or all)");
        if (o.Threads <= 0) throw new NextStepException($"--threads must be positive, found {o.Threads}");
        var device = ResolveDevice(o.Device);
        torch.set_num_threads(o.Threads);
        double load0 = ProcessStats.LoadAverage;
        torch.manual_seed(o.Seed);
        var loads = new List<LoadResult>();
        if (o.Suites.Contains("load") && o.ModelFolder is null)
            foreach (var fileType in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                var r = LoadBench.Measure(BenchShape.Config(o.Shape), fileType, o.DType, o.Scratch, o.Seed);
                loads.Add(r);
                log?.WriteLine($"load {r.FileType}→{r.ModelType,-8} {r.Ms,10:F0} ms  weights {r.WeightBytes / 1048576.0:F0} MiB, peak RSS {r.PeakRssBytes / 1048576.0:F0} MiB " +
                    $"({r.PeakOverWeights:F3}× the weights; +{(r.PeakRssBytes - r.RssBeforeBytes) / 1048576.0:F0} MiB while loading = {r.IncreaseOverWeights:F3}×)");
            }

        using var model = BuildModel(o, device);
        var c = model.Config;
        var entries = new List<BenchEntry>();
        void Add(string suite, string name, Timing t, Dictionary<string, double>? metrics = null)
        {
            var e = new BenchEntry(name, suite, t, ProcessStats.PeakRssBytes, metrics ?? new());
            entries.Add(e);
            log?.WriteLine($"{name,-22} {t.Ms,10:F2} ms  (cpu {t.CpuMs,10:F2} ms, min {t.MinMs,10:F2} ms, tensors/run {t.TensorsPerRun})" +
                string.Concat(e.Metrics.Select(m => $"  {m.Key}={m.Value:G5}")) + $"  peak RSS {e.PeakRssBytes / 1048576.0:F0} MiB");
        }

        foreach (var suite in BenchOptions.AllSuites.Where(o.Suites.Contains))
        {
            ProcessStats.ResetPeak();
            switch (suite)
            {
                case "load": break;
                case "prefill":
                {
                    var t = Timing.Measure(() =>
                    {
                        using var cache = model.NewCache(2, o.PromptLength);
                        model.Prefill(randn(2, o.PromptLength, c.HiddenSize, model.DType, device), ones(2, o.PromptLength, ScalarType.Int64, device), cache);
                    }, o.Warmup, o.Runs);
                    Add(suite, $"prefill_b2_t{o.PromptLength}", t, new() { ["tokens_per_s"] = 2 * o.PromptLength / (t.Ms / 1e3) });
                    break;
                }
                case "decode":
                    foreach (int b in new[] { 2, 8 })
                    {
                        using var cache = model.NewCache(b, o.PromptLength + o.Warmup + o.Runs);
                        using (NewDisposeScope())
                        using (no_grad())
                            model.Prefill(randn(b, o.PromptLength, c.HiddenSize, model.DType, device), ones(b, o.PromptLength, ScalarType.Int64, device), cache);
                        var t = Timing.Measure(() => model.DecodeStep(randn(b, 1, c.HiddenSize, model.DType, device), cache), o.Warmup, o.Runs);
                        Add(suite, $"decode_b{b}", t, new() { ["tokens_per_s"] = b / (t.Ms / 1e3) });
                    }
                    break;
                case "head":
                    foreach (int steps in new[] { 28, 50 })
                    {
                        var t = Timing.Measure(() => SampleToken(model, randn(2, c.HiddenSize, model.DType, device), steps, o.Cfg), o.Warmup, o.Runs);
                        Add(suite, $"head_sample_{steps}", t, new() { ["ms_per_step"] = t.Ms / steps });
                    }
                    break;
                case "vae":
                {
                    using var vae = RandomVae(model.DType, device, o.Seed);
                    foreach (int px in new[] { 256, 512 })
                    {
                        var t = Timing.Measure(() => vae.Decode(randn(1, 16, px / 8, px / 8, model.DType, device)), o.Warmup, o.Runs);
                        Add(suite, $"vae_decode_{px}", t);
                    }
                    break;
                }
                case "image":
                    WholeImage(model, o, device, Add);
                    break;
                case "pipeline":
                    if (o.ModelFolder is null) log?.WriteLine("pipeline: skipped (it runs a model folder's real pipeline: give --model)");
                    else PipelineImage(model, o, Add);
                    break;
            }
        }
        long paramBytes = model.parameters().Sum(p => p.numel() * p.element_size());
        var shape = new Dictionary<string, long>
        {
            ["hidden_size"] = c.HiddenSize, ["num_hidden_layers"] = c.NumHiddenLayers, ["num_attention_heads"] = c.NumAttentionHeads,
            ["num_key_value_heads"] = c.NumKeyValueHeads, ["head_dim"] = c.HeadDim, ["intermediate_size"] = c.IntermediateSize,
            ["vocab_size"] = c.VocabSize, ["fm_head_dim"] = c.FmHeadDim, ["fm_head_layers"] = c.FmHeadLayers,
        };
        return new BenchReport(o.ModelFolder ?? o.Shape, o.DType.ToString().ToLowerInvariant(), o.Int8, o.Device, o.Threads, ProcessStats.PhysicalCores,
            load0, ProcessStats.LoadAverage, paramBytes, ProcessStats.PeakRssBytes, shape, entries, loads);
    }

    /// <summary>"cpu" or "cuda[:N]"; CUDA must be present.</summary>
    public static Device ResolveDevice(string name)
    {
        if (name == "cpu") return CPU;
        if (name.StartsWith("cuda", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new NextStepException($"--device {name}: CUDA is not available (no GPU found, or this build uses the CPU-only libtorch); use --device cpu");
            return torch.device(name);
        }
        throw new NextStepException($"--device \"{name}\" is unknown (expected cpu or cuda[:N])");
    }

    private static NextStepModel BuildModel(BenchOptions o, Device device)
    {
        if (o.ModelFolder is { } folder) return NextStepModel.Load(folder, o.DType, device, int8: o.Int8);
        var config = BenchShape.Config(o.Shape);
        var model = new NextStepModel(config, NextStepLayout.FromConfig(config), o.DType, device, int8: o.Int8);
        long bytes = model.parameters().Sum(p => p.numel() * p.element_size()), available = ProcessStats.AvailableMemoryBytes;
        if (device.type == DeviceType.CPU && available > 0 && bytes > available)
        {
            model.Dispose();
            throw new NextStepException($"--shape {o.Shape} needs {bytes / 1e9:F1} GB of weights in {o.DType}{(o.Int8 ? " with int8 linear layers" : "")} " +
                $"but only {available / 1e9:F1} GB of memory is available{(o.Int8 ? "" : "; try --quantize int8")}");
        }
        RandomWeights.Fill(model, o.Seed);
        model.eval();
        return model;
    }

    /// <summary>The default VAE shape (ch 128, ch_mult [1, 2, 4, 4], 2 res blocks, z 16) with random weights.</summary>
    private static AutoencoderKL RandomVae(ScalarType dtype, Device device, long seed)
    {
        var vae = new AutoencoderKL(new VaeConfig(), dtype, device);
        RandomWeights.Fill(vae, seed);
        return vae;
    }

    /// <summary>One image token: the github2025 sampler over the two CFG rows c [2, H] (the official loop's call).</summary>
    private static Tensor SampleToken(NextStepModel model, Tensor cond, int steps, double cfg)
    {
        var sampler = new Github2025Sampler();
        var settings = new SamplerSettings(Cfg: cfg, NumSamplingSteps: steps, TokenDim: model.Config.TokenDim);
        using var head = model.Head.Condition(cond, sampler.Timesteps(settings));
        return sampler.Sample(head.Net, cond, settings);
    }

    /// <summary>
    /// One <see cref="NextStepPipeline.Generate"/> call of the model folder, as <c>nextstep generate</c> makes an image:
    /// tokenizer, prompt rows, sampling (with best of K when <see cref="BenchOptions.Candidates"/> &gt; 1), the real VAE.
    /// </summary>
    private static void PipelineImage(NextStepModel model, BenchOptions o, Action<string, string, Timing, Dictionary<string, double>?> add)
    {
        // not disposed: the pipeline would dispose the bench's model with it; only its VAE is the suite's own
        var pipeline = NextStepPipeline.Around(model, o.ModelFolder!);
        using var vae = pipeline.Vae;
        var request = new GenerationRequest
        {
            Captions = ["a red circle above a blue square"], Height = o.ImageSize, Width = o.ImageSize,
            NumSamplingSteps = o.Steps, Cfg = o.Cfg, Candidates = o.Candidates, Seed = o.Seed,
        };
        var t = Timing.Measure(() => pipeline.Generate(request), o.Warmup, o.Runs);
        add("pipeline", $"pipeline_{o.ImageSize}", t, new() { ["candidates"] = o.Candidates, ["images_per_min"] = 60000 / t.Ms });
    }

    /// <summary>
    /// The official loop for one image with CFG (2 rows): prefill, then per token image_out_projector → head sample →
    /// image_in_projector → one decode step of both rows; then the VAE decodes the latent. Reports the official
    /// script's metrics (prefill_ms, ms_per_token, head_ms_per_token) and the whole image.
    /// </summary>
    private static void WholeImage(NextStepModel model, BenchOptions o, Device device, Action<string, string, Timing, Dictionary<string, double>?> add)
    {
        var c = model.Config;
        int grid = o.ImageSize / 8 / c.LatentPatchSize;
        int total = grid * grid, tokens = Math.Min(o.Tokens ?? total, total);
        using var vae = RandomVae(model.DType, device, o.Seed);
        long tensorsPerToken = 0;
        var runs = new List<(double Prefill, double PerToken, double Head, double PrefillCpu, double PerTokenCpu, double HeadCpu)>();
        var outTokens = new List<Tensor>();
        using var outer = NewDisposeScope();
        for (int run = 0; run < o.Warmup + o.Runs; run++)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var cache = model.NewCache(2, o.PromptLength + tokens);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            double cpu0 = ProcessStats.CpuSeconds;
            var hidden = model.Prefill(randn(2, o.PromptLength, c.HiddenSize, model.DType, device), ones(2, o.PromptLength, ScalarType.Int64, device), cache);
            var last = hidden.narrow(1, o.PromptLength - 1, 1);
            double prefill = sw.Elapsed.TotalMilliseconds, prefillCpu = (ProcessStats.CpuSeconds - cpu0) * 1e3;
            sw.Restart(); cpu0 = ProcessStats.CpuSeconds;
            double head = 0, headCpu = 0;
            outTokens.Clear();
            long created0 = Timing.CreatedTensors;
            for (int i = 0; i < tokens; i++)
            {
                using var step = NewDisposeScope();
                var cond = model.ImageOutProjector.forward(last).squeeze(1);
                double h0 = sw.Elapsed.TotalMilliseconds, hc0 = ProcessStats.CpuSeconds;
                var token = SampleToken(model, cond, o.Steps, o.Cfg);
                head += sw.Elapsed.TotalMilliseconds - h0;
                headCpu += (ProcessStats.CpuSeconds - hc0) * 1e3;
                var e = model.ImageInProjector.forward(token).unsqueeze(1);
                last = model.DecodeStep(cat([e, e], 0), cache).MoveToOuterDisposeScope();
                outTokens.Add(token.MoveToOuterDisposeScope());
            }
            tensorsPerToken = (Timing.CreatedTensors - created0) / tokens;
            double loop = sw.Elapsed.TotalMilliseconds, loopCpu = (ProcessStats.CpuSeconds - cpu0) * 1e3;
            if (run >= o.Warmup) runs.Add((prefill, loop / tokens, head / tokens, prefillCpu, loopCpu / tokens, headCpu / tokens));
            foreach (var t in outTokens) t.MoveToOuterDisposeScope();
        }
        // the VAE once, on the last run's tokens (the rest of the grid zero-filled); the vae suite times it repeatedly
        var vaeTime = System.Diagnostics.Stopwatch.StartNew();
        using (no_grad())
        {
            var all = cat(outTokens.Concat(Enumerable.Repeat(zeros_like(outTokens[0]), total - tokens)).ToList(), 0).unsqueeze(0);
            vae.Decode(model.Unpatchify(all, grid, grid));
        }
        double vaeMs = vaeTime.Elapsed.TotalMilliseconds;
        double Med(Func<(double Prefill, double PerToken, double Head, double PrefillCpu, double PerTokenCpu, double HeadCpu), double> f)
        {
            var s = runs.Select(f).Order().ToList();
            return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
        }
        double perToken = Med(r => r.PerToken), imageMs = Med(r => r.Prefill) + total * perToken + vaeMs;
        var metrics = new Dictionary<string, double>
        {
            ["prefill_ms"] = Med(r => r.Prefill), ["prefill_cpu_ms"] = Med(r => r.PrefillCpu),
            ["ms_per_token"] = perToken, ["cpu_ms_per_token"] = Med(r => r.PerTokenCpu), ["head_ms_per_token"] = Med(r => r.Head), ["head_cpu_ms_per_token"] = Med(r => r.HeadCpu),
            ["vae_ms"] = vaeMs, ["tokens_timed"] = tokens, ["tokens_per_image"] = total,
            ["image_ms"] = imageMs, ["images_per_min"] = 60000 / imageMs, ["tokens_per_s"] = 1000 / perToken,
            ["tensors_created_per_token"] = tensorsPerToken,
        };
        var timing = new Timing(imageMs, imageMs, Med(r => r.PrefillCpu) + total * Med(r => r.PerTokenCpu), runs.Count, tensorsPerToken);
        add("image", $"image_{o.ImageSize}", timing, metrics);
    }
}
