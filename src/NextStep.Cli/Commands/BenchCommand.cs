using System.CommandLine;
using System.Text.Json;
using NextStep.Benchmarks;
using NextStep.Config;
using NextStep.Sampling;
using static TorchSharp.torch;

namespace NextStep.Cli.Commands;

/// <summary>
/// <c>nextstep bench [--shape tiny|medium|large | --model DIR] [--dtype float32|bfloat16] [--quantize int8] [--threads N]
/// [--suite prefill,decode,head,vae,image|all] [--steps N] [--cfg G] [--json FILE]</c>: times the model's parts (see <see cref="NextStepBench"/>).
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = "Random-weight model shape: tiny, medium or large (NextStep-1-Large)", DefaultValueFactory = _ => "medium" };
        var model = new Option<string?>("--model") { Description = "Bench this model folder instead of random weights" };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype: float32, bfloat16 or float16", DefaultValueFactory = _ => "float32" };
        var quantize = new Option<string?>("--quantize") { Description = "Weight-only quantization of the decoder's linear layers: int8" };
        var device = new Option<string>("--device") { Description = "cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: the physical cores)", DefaultValueFactory = _ => ProcessStats.PhysicalCores };
        var suite = new Option<string>("--suite") { Description = "Comma-separated: prefill, decode, head, vae, image, pipeline (a model folder's real generate call), or all", DefaultValueFactory = _ => "all" };
        var runs = new Option<int>("--runs") { Description = "Timed runs per measurement (the median is reported)", DefaultValueFactory = _ => 3 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed runs first", DefaultValueFactory = _ => 1 };
        var tokens = new Option<int?>("--tokens") { Description = "Image tokens the whole-image loop generates (default: all; the rest is extrapolated)" };
        var size = new Option<int>("--image-size") { Description = "Image side in pixels for the whole-image loop", DefaultValueFactory = _ => 256 };
        var prompt = new Option<int>("--prompt-length") { Description = "Prompt tokens of the prefill (both rows)", DefaultValueFactory = _ => 96 };
        var steps = new Option<int?>("--steps") { Description = "Flow-matching steps per token (default: the model folder's sampling_profile.json, else 28)" };
        var cfg = new Option<double?>("--cfg") { Description = "Guidance scale of the head (default: the model folder's sampling_profile.json, else 7.5)" };
        var candidates = new Option<int?>("--candidates") { Description = "Best of K in the pipeline suite (default: the model folder's sampling_profile.json, else 1)" };
        var json = new Option<string?>("--json") { Description = "Write the report as JSON to this file" };

        var cmd = new Command("bench", "Time prefill, decode, the flow-matching head, the VAE and a whole image; report ms, peak RSS and allocations");
        foreach (var opt in new Option[] { shape, model, dtype, quantize, device, threads, suite, runs, warmup, tokens, size, prompt, steps, cfg, candidates, json }) cmd.Options.Add(opt);
        cmd.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var q = parse.GetValue(quantize);
            if (q is not null && q != "int8") throw new NextStepException($"--quantize \"{q}\" is not supported (expected int8)");
            var suites = parse.GetValue(suite)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var profile = parse.GetValue(model) is { } folder ? SamplingProfile.FromFile(folder) : null;
            var options = new BenchOptions
            {
                Shape = parse.GetValue(shape)!,
                ModelFolder = parse.GetValue(model),
                DType = DTypeName.Parse(parse.GetValue(dtype)!, "--dtype"),
                Int8 = q == "int8",
                Device = parse.GetValue(device)!,
                Threads = parse.GetValue(threads),
                Suites = suites.Contains("all") ? BenchOptions.AllSuites : suites,
                Runs = Positive("--runs", parse.GetValue(runs)),
                Warmup = Math.Max(0, parse.GetValue(warmup)),
                Tokens = parse.GetValue(tokens) is { } t ? Positive("--tokens", t) : null,
                ImageSize = parse.GetValue(size),
                PromptLength = Positive("--prompt-length", parse.GetValue(prompt)),
                Steps = Positive("--steps", parse.GetValue(steps) ?? profile?.NumSamplingSteps ?? new BenchOptions().Steps),
                Cfg = parse.GetValue(cfg) ?? profile?.Cfg ?? new BenchOptions().Cfg,
                Candidates = Positive("--candidates", parse.GetValue(candidates) ?? profile?.Candidates ?? 1),
            };
            if (!(options.Cfg >= 1)) throw new NextStepException($"--cfg {options.Cfg} is invalid (expected a number of at least 1)");
            if (options.ImageSize <= 0 || options.ImageSize % 16 != 0) throw new NextStepException($"--image-size must be a positive multiple of 16, found {options.ImageSize}");
            output.WriteLine($"bench: {options.ModelFolder ?? options.Shape}, {options.DType}{(options.Int8 ? " int8" : "")}, {options.Threads} thread(s), device {options.Device}, {options.Steps} steps, cfg {options.Cfg}{(options.Candidates > 1 ? $", best of {options.Candidates}" : "")}, load {ProcessStats.LoadAverage:F1}");
            var report = NextStepBench.Run(options, output);
            output.WriteLine($"peak RSS {report.PeakRssBytes / 1048576.0:F0} MiB, weights {report.ParameterBytes / 1048576.0:F0} MiB, load {report.LoadAverageEnd:F1}");
            if (parse.GetValue(json) is { } file)
                File.WriteAllText(file, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            return 0;
        });
        return cmd;
    }

    private static int Positive(string name, int v) => v > 0 ? v : throw new NextStepException($"{name} must be positive, found {v}");
}
