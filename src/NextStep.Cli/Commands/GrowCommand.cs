using System.CommandLine;
using NextStep.Training;

namespace NextStep.Cli.Commands;

/// <summary>
/// <c>nextstep grow --model DIR --out DIR --after 1,3</c>: a deeper copy of a model folder that computes the same
/// outputs (<see cref="DepthGrowth"/>); training then goes on from it with <c>train-default --init OUT</c>.
/// </summary>
public static class GrowCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder to start from", Required = true };
        var output = new Option<string>("--out") { Description = "Model folder to write", Required = true };
        var after = new Option<string>("--after") { Description = "Comma-separated 0-based decoder layers; a copy of each, with zero residual outputs, is inserted after it", Required = true };
        var cmd = new Command("grow", "Add decoder layers to a trained model without changing its outputs (to train on with more depth)") { model, output, after };
        cmd.SetAction(p =>
        {
            var text = p.GetValue(after)!;
            var layers = new List<int>();
            foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
                layers.Add(int.TryParse(part, out int i) ? i : throw new NextStepException($"--after {text}: '{part}' is not a layer index (expected e.g. 1,3)"));
            var result = DepthGrowth.Run(p.GetValue(model)!, p.GetValue(output)!, layers);
            p.InvocationConfiguration.Output.WriteLine($"{result.LayersBefore} → {result.LayersAfter} decoder layers; wrote {p.GetValue(output)}");
            return 0;
        });
        return cmd;
    }
}
