using System.CommandLine;
using NextStep.Pipeline;
using NextStep.Training.Shapes;
using Spectre.Console;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep eval</c>: the Shapes prompt-following benchmark (GenEval-style categories, exact scoring).</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var defaults = ShapesGenerationSettings.Default;
        var model = new Option<string?>("--model") { Description = "Model folder to evaluate (default: models/default)" };
        var prompts = new Option<string?>("--prompts") { Description = "JSON lines with \"caption\" and \"spec\" (default: the built-in Shapes prompt set)" };
        var seeds = new Option<int>("--seeds") { Description = "Images per prompt (seeds FIRST..FIRST+N-1)", DefaultValueFactory = _ => 1 };
        var firstSeed = new Option<int>("--first-seed") { Description = "First seed of every prompt (another range gives images to pool with an earlier report)", DefaultValueFactory = _ => 0 };
        var heldOut = new Option<bool>("--held-out") { Description = "Use the held-out prompt set (combinations never seen in training)" };
        var outDir = new Option<string>("--out") { Description = "Folder for images, report.json and contact_sheet.png", DefaultValueFactory = _ => "shapes-eval" };
        var size = new Option<int?>("--size") { Description = $"Image side in pixels (a multiple of 16; default: the model's sampling_profile.json, else {defaults.Size})" };
        var steps = new Option<int?>("--steps") { Description = $"Flow-matching steps per image token (default: the model's profile, else {defaults.Steps})" };
        var cfg = new Option<double?>("--cfg") { Description = $"Text guidance scale, 1 = off (default: the model's profile, else {defaults.Cfg})" };
        var useNorm = new Option<bool?>("--use-norm") { Description = "LayerNorm each sampled token (default: the model's profile, else off)" };
        var candidates = new Option<int?>("--candidates") { Description = GenerateCommand.CandidatesDescription };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16", DefaultValueFactory = _ => "float32" };
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var perCategory = new Option<int>("--per-category") { Description = "Built-in prompts per category", DefaultValueFactory = _ => ShapesEval.PerCategory };
        var groundTruth = new Option<bool>("--ground-truth") { Description = "Score the renderer's own images instead of a model (checks the scorer; expect 1.0)" };
        var vaeRoundTrip = new Option<bool>("--vae-round-trip") { Description = "With --ground-truth: score the renderer's images after encoding and decoding them with the model's VAE (the ceiling this VAE allows)" };
        var cmd = new Command("eval", "Score prompt following on the Shapes benchmark: per-category and overall accuracy")
        {
            model, prompts, seeds, firstSeed, heldOut, outDir, size, steps, cfg, useNorm, candidates, dtype, device, perCategory, groundTruth, vaeRoundTrip,
        };
        cmd.SetAction(p =>
        {
            var output = p.InvocationConfiguration.Output;
            if (p.GetValue(perCategory) < 1) throw new NextStepException($"--per-category {p.GetValue(perCategory)} is invalid (expected at least 1)");
            var set = p.GetValue(prompts) is { } file
                ? ShapesJson.ReadPrompts(file)
                : ShapesEval.Prompts(p.GetValue(heldOut), p.GetValue(perCategory));
            string setName = p.GetValue(prompts) ?? (p.GetValue(heldOut) ? "built-in held-out" : "built-in");
            string folder = p.GetValue(model) ?? DefaultModel.Path;
            if (p.GetValue(vaeRoundTrip) && !p.GetValue(groundTruth)) throw new NextStepException("--vae-round-trip needs --ground-truth (it scores the renderer's images through the model's VAE)");
            var own = p.GetValue(groundTruth) ? defaults : ShapesGenerationSettings.ForModel(folder);
            var settings = new ShapesGenerationSettings(p.GetValue(size) ?? own.Size, p.GetValue(steps) ?? own.Steps, p.GetValue(cfg) ?? own.Cfg,
                p.GetValue(useNorm) ?? own.UseNorm, own.Shift, p.GetValue(candidates) ?? own.Candidates);
            using var pipeline = p.GetValue(groundTruth) ? null : NextStepPipeline.Load(folder,
                new PipelineOptions { DType = PipelineOptions.ParseDType(p.GetValue(dtype)!), Device = PipelineOptions.ParseDevice(p.GetValue(device)!) });
            using var vae = p.GetValue(vaeRoundTrip) ? Model.AutoencoderKL.Load(Path.Combine(folder, "vae")) : null;
            var generator = pipeline is not null ? ShapesPipelineAdapter.Create(pipeline, settings)
                : vae is not null ? ShapesPipelineAdapter.ThroughVae(ShapesEval.GroundTruth(set, settings.Size), vae)
                : ShapesEval.GroundTruth(set, settings.Size);
            var dir = p.GetValue(outDir)!;
            int total = set.Count * p.GetValue(seeds);
            string generatorName = pipeline is not null ? $"{folder}: {settings.Steps} steps, cfg {settings.Cfg}, shift {settings.Shift}, use_norm {(settings.UseNorm ? "on" : "off")}, {(settings.Candidates > 1 ? $"best of {settings.Candidates}{(pipeline.Detector is { } d ? " with " + d.Description : "")}, " : "")}{settings.Size} px, {p.GetValue(dtype)}"
                : vae is not null ? $"renderer images through {Path.Combine(folder, "vae")} ({settings.Size} px)" : $"renderer ground truth ({settings.Size} px)";
            var report = ShapesEval.Run(set, generator, p.GetValue(seeds), dir, setName,
                item => { if ((item.Index + 1) % 50 == 0 || item.Index + 1 == total) output.WriteLine($"scored {item.Index + 1}/{total}"); }, generatorName, p.GetValue(firstSeed));
            Print(report, output);
            output.WriteLine($"wrote {Path.Combine(dir, "report.json")} and {Path.Combine(dir, "contact_sheet.png")}");
            return 0;
        });
        return cmd;
    }

    private static void Print(ShapesEvalReport report, TextWriter output)
    {
        var console = PlainConsole.For(output);
        var table = new Table { Title = new TableTitle($"Shapes eval: {report.PromptSet} ({report.Prompts} prompts x {report.SeedsPerPrompt} seeds)") };
        table.AddColumn("category").AddColumn(new TableColumn("images").RightAligned()).AddColumn(new TableColumn("correct").RightAligned()).AddColumn(new TableColumn("accuracy").RightAligned());
        foreach (var (category, accuracy) in report.Categories)
        {
            var items = report.Items.Where(i => i.Category == category).ToArray();
            table.AddRow(ShapesVocabulary.Name(category), items.Length.ToString(), items.Count(i => i.Correct).ToString(), $"{accuracy:F3}");
        }
        table.AddRow("overall", report.Items.Count.ToString(), report.Items.Count(i => i.Correct).ToString(), $"{report.Overall:F3}");
        console.Write(table);
        console.Write(AccuracyTable("shape in the prompt", "shape", report.Shapes.Select(kv => (ShapesVocabulary.Name(kv.Key), kv.Value))));
        if (report.HeldOutCombinations.Count > 0)
            console.Write(AccuracyTable("held-out combination in the prompt", "combination", report.HeldOutCombinations.Select(kv => (kv.Key, kv.Value))));
    }

    private static Table AccuracyTable(string title, string firstColumn, IEnumerable<(string Label, double Accuracy)> rows)
    {
        var table = new Table { Title = new TableTitle(title) };
        table.AddColumn(firstColumn).AddColumn(new TableColumn("accuracy").RightAligned());
        foreach (var (label, accuracy) in rows) table.AddRow(label, $"{accuracy:F3}");
        return table;
    }
}
