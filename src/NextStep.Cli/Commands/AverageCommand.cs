using System.CommandLine;
using NextStep.Training;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep average --model A --model B [--model C …] --out DIR</c>: a model folder with the mean of the folders' weights (<see cref="ModelAverage"/>).</summary>
public static class AverageCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model") { Description = "Model folder to average (give two or more; everything but the weights is copied from the first)", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Model folder to write", Required = true };
        var cmd = new Command("average", "Write a model folder whose weights are the element-wise mean of several runs from the same starting weights") { models, output };
        cmd.SetAction(p =>
        {
            ModelAverage.Run(p.GetValue(models)!, p.GetValue(output)!);
            p.InvocationConfiguration.Output.WriteLine($"wrote {p.GetValue(output)}");
            return 0;
        });
        return cmd;
    }
}
