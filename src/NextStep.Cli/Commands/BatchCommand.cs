using System.CommandLine;
using System.Diagnostics;
using NextStep.Pipeline;

namespace NextStep.Cli.Commands;

/// <summary>
/// <c>nextstep batch FILE.json --out DIR</c>: every item of a batch file (see <see cref="BatchFile"/>) with one
/// loaded model; images, .json sidecars and <c>report.json</c> in DIR. A bad item is reported and the rest run.
/// </summary>
public static class BatchCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "Batch file: {\"prompts\": [...], \"settings\": {...}}" };
        var output = new Option<string>("--out") { Description = "Output folder (images, .json sidecars, report.json)", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Skip the items report.json lists as done (same prompt, file present)" };
        var model = new Option<string?>("--model") { Description = "Model folder; default: models/default" };
        var minQuality = new Option<double?>("--min-quality") { Description = "Default quality threshold 0..1 for all items (retry with seed+1, seed+2, …)" };
        var retries = new Option<int?>("--retries") { Description = "Default extra tries for --min-quality (default 3)" };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16", DefaultValueFactory = _ => "float32" };
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch (default: the physical cores)" };
        var quantize = new Option<string?>("--quantize") { Description = "int8: weight-only int8 backbone" };
        var cmd = new Command("batch", "Generate every prompt of a JSON batch file (resumable)") { file, output, resume, model, minQuality, retries, dtype, device, threads, quantize };
        cmd.SetAction(parse =>
        {
            GenerateCommand.ApplyThreads(parse.GetValue(threads));
            var defaults = new JobSettings { MinQuality = parse.GetValue(minQuality), Retries = parse.GetValue(retries) ?? (parse.GetValue(minQuality) is null ? 0 : 3) };
            var options = GenerateCommand.Options(parse.GetValue(dtype)!, parse.GetValue(device)!, parse.GetValue(quantize));
            using var ctrlC = new CtrlC();
            return Execute(parse.GetValue(file)!, parse.GetValue(output)!, parse.GetValue(resume), ModelInfo.Of(parse.GetValue(model) ?? DefaultModel.Path),
                defaults, options, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ctrlC.Token);
        });
        return cmd;
    }

    /// <summary>Runs a batch file; returns 0 when every item is done, 1 when some failed.</summary>
    public static int Execute(string batchPath, string outDir, bool resume, ModelInfo model, JobSettings defaults, PipelineOptions options,
        TextWriter stdout, TextWriter stderr, CancellationToken cancel = default)
    {
        var items = BatchFile.Load(batchPath, model, defaults);
        foreach (var bad in items.Where(i => i.Error is not null)) stderr.WriteLine($"error: {batchPath}: {bad.Error}");
        Directory.CreateDirectory(outDir);
        var previous = resume ? BatchReport.Read(outDir)?.Items.ToDictionary(i => i.Index) : null;
        bool IsDone(BatchItem item) => previous?.GetValueOrDefault(item.Index) is { Done: true } p && p.Prompt == item.Prompt && p.File == item.File && File.Exists(Path.Combine(outDir, p.File));

        var todo = items.Where(i => i.Job is not null && !IsDone(i)).ToList();
        using var runner = todo.Count > 0 ? new GenerateRunner(model, options) : null;
        var report = new BatchReport(Path.GetFileName(batchPath), model.Name, runner?.ModelHash ?? Imaging.ImageMetadata.ModelHashOf(model.Folder), []);
        var entries = new List<BatchReportItem>();
        void Save() => (report with { Items = entries.OrderBy(e => e.Index).ToList() }).Save(outDir);

        return ProgressDisplay.Run(stdout, display =>
        {
            int skipped = 0;
            foreach (var item in items)
            {
                string label = $"item {item.Index + 1}/{items.Count}";
                if (IsDone(item))
                {
                    entries.Add(previous![item.Index]);
                    skipped++;
                    Save();
                    continue;
                }
                if (item.Job is null)
                {
                    entries.Add(new BatchReportItem(item.Index, item.Prompt, item.File, null, null, null, null, "failed", item.Error));
                    Save();
                    continue;
                }
                var clock = Stopwatch.StartNew();
                try
                {
                    var img = runner!.Run(item.Job, Path.Combine(outDir, item.File), sidecar: true, display, label, cancel).Single();
                    entries.Add(new BatchReportItem(item.Index, item.Prompt, item.File, img.Seed, img.Attempt, Math.Round(clock.Elapsed.TotalSeconds, 3),
                        Math.Round(img.Quality, 4), img.MetMinQuality ? "ok" : "below_min_quality", null));
                    display.Line($"{label}: wrote {img.Path} (seed {img.Seed}, quality {img.Quality:F3}{(img.Attempt > 1 ? $", try {img.Attempt}" : "")})");
                }
                catch (OperationCanceledException)
                {
                    display.Line($"{label}: cancelled; run the same command with --resume to finish the batch");
                    throw;
                }
                catch (NextStepException e)
                {
                    entries.Add(new BatchReportItem(item.Index, item.Prompt, item.File, item.Job.Seed, null, Math.Round(clock.Elapsed.TotalSeconds, 3), null, "failed", $"prompts[{item.Index}]: {e.Message}"));
                    stderr.WriteLine($"error: {batchPath}: prompts[{item.Index}]: {e.Message}");
                }
                finally { Save(); }
            }
            int failed = entries.Count(e => e.Status == "failed");
            display.Line($"batch: {entries.Count - failed - skipped} generated, {skipped} skipped (already done), {failed} failed; report: {Path.Combine(outDir, BatchReport.FileName)}");
            return failed > 0 ? 1 : 0;
        });
    }
}
