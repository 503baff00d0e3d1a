using System.CommandLine;
using System.Text.Json;
using NextStep.Model;
using NextStep.Pipeline;
using NextStep.Training.Shapes;
using Spectre.Console;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep probe-vae</c>: how well a VAE keeps each (shape, colour) pair of the Shapes world (<see cref="ShapesVaeProbe"/>).</summary>
public static class ProbeVaeCommand
{
    public static Command Create()
    {
        var vaeDir = new Option<string?>("--vae") { Description = "VAE folder (config.json and checkpoint); default: the default model's vae/" };
        var background = new Option<string>("--background") { Description = "Background colour: gray, white or black", DefaultValueFactory = _ => "gray" };
        var objects = new Option<int>("--objects") { Description = "Objects per (shape, colour) pair", DefaultValueFactory = _ => 30 };
        var seed = new Option<int>("--seed") { Description = "Seed of the objects' sizes and places (the same for every pair)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per pair instead of the table" };
        var cmd = new Command("probe-vae", "Send single Shapes objects of every shape and colour through a VAE and print how well each pair's outline comes back (mask IoU; * marks held-out pairs)")
            { vaeDir, background, objects, seed, json };
        cmd.SetAction(p =>
        {
            var output = p.InvocationConfiguration.Output;
            var bgName = p.GetValue(background)!;
            var bg = ShapesVocabulary.BackgroundColors.Where(c => ShapesVocabulary.Name(c) == bgName.ToLowerInvariant()).Cast<ShapeColor?>().FirstOrDefault()
                ?? throw new NextStepException($"--background \"{bgName}\": expected gray, white or black");
            if (p.GetValue(objects) < 1) throw new NextStepException($"--objects {p.GetValue(objects)}: expected at least 1");
            string folder = p.GetValue(vaeDir) ?? Path.Combine(DefaultModel.Path, "vae");
            using var vae = AutoencoderKL.Load(folder);
            var cells = ShapesVaeProbe.Run(ShapesPipelineAdapter.RoundTrip(vae), bg, p.GetValue(objects), p.GetValue(seed), progress: c =>
            {
                if (c.Color == ShapesVocabulary.ObjectColors.Last(k => k != bg)) p.InvocationConfiguration.Error.WriteLine($"probed {ShapesVocabulary.Plural(c.Shape)}");
            });
            if (p.GetValue(json))
            {
                foreach (var c in cells)
                    output.WriteLine(JsonSerializer.Serialize(new { shape = ShapesVocabulary.Name(c.Shape), color = ShapesVocabulary.Name(c.Color), mask_iou = c.MaskIou, objects = c.Objects, held_out = c.HeldOut }));
                return 0;
            }
            var table = new Table { Title = new TableTitle($"mask IoU on {ShapesVocabulary.Name(bg)}, objects per pair: {p.GetValue(objects)} (* held out of training)") };
            table.AddColumn("colour");
            foreach (var shape in ShapesVocabulary.Kinds) table.AddColumn(new TableColumn(ShapesVocabulary.Name(shape)).RightAligned());
            foreach (var color in cells.Select(c => c.Color).Distinct())
                table.AddRow([ShapesVocabulary.Name(color), .. cells.Where(c => c.Color == color).Select(c => $"{c.MaskIou:F3}{(c.HeldOut ? "*" : " ")}")]);
            output.WriteLine($"VAE {folder}");
            PlainConsole.For(output).Write(table);
            return 0;
        });
        return cmd;
    }
}
