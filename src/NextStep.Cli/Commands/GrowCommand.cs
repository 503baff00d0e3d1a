using System.CommandLine;
using NextStep.Training;

namespace NextStep.Cli.Commands;

/// <summary>
/// <c>nextstep grow --model DIR --out DIR [--after 1,3] [--head-after 0,2]</c>: a deeper copy of a model folder that
/// computes the same outputs (<see cref="DepthGrowth"/>); training then goes on from it with
/// <c>train-default --init OUT</c>.
/// </summary>
public static class GrowCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder to start from", Required = true };
        var output = new Option<string>("--out") { Description = "Model folder to write", Required = true };
        var after = new Option<string?>("--after") { Description = "Comma-separated 0-based decoder layers; a copy of each, with zero residual outputs, is inserted after it" };
        var headAfter = new Option<string?>("--head-after") { Description = "Comma-separated 0-based res blocks of the flow-matching head; a copy of each, with a zero gate, is inserted after it" };
        var cmd = new Command("grow", "Add decoder layers or head blocks to a trained model without changing its outputs (to train on with more depth)") { model, output, after, headAfter };
        cmd.SetAction(p =>
        {
            var result = DepthGrowth.Run(p.GetValue(model)!, p.GetValue(output)!, Indices("--after", p.GetValue(after)), Indices("--head-after", p.GetValue(headAfter)));
            p.InvocationConfiguration.Output.WriteLine($"{result.LayersBefore} → {result.LayersAfter} decoder layers, {result.HeadBlocksBefore} → {result.HeadBlocksAfter} head blocks; wrote {p.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    private static List<int> Indices(string option, string? text)
    {
        var indices = new List<int>();
        if (string.IsNullOrWhiteSpace(text)) return indices;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
            indices.Add(int.TryParse(part, out int i) ? i : throw new NextStepException($"{option} {text}: '{part}' is not an index (expected e.g. 1,3)"));
        return indices;
    }
}
