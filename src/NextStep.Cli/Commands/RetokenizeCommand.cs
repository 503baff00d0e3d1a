using System.CommandLine;
using NextStep.Training;
using NextStep.Training.Shapes;

namespace NextStep.Cli.Commands;

/// <summary>
/// <c>nextstep retokenize --model DIR --out DIR [--texts FILE | --shapes N]</c>: a copy of a model folder whose
/// tokenizer makes the words of a domain single tokens, with the embedding rows adapted (<see cref="Retokenize"/>).
/// Training then goes on from it with <c>train-default --init OUT --tokenizer OUT</c>.
/// </summary>
public static class RetokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder to start from (config, weights, tokenizer)", Required = true };
        var output = new Option<string>("--out") { Description = "Model folder to write", Required = true };
        var texts = new Option<string?>("--texts") { Description = "UTF-8 text file, one domain text per line, to learn the merges from" };
        var shapes = new Option<int>("--shapes") { Description = "Without --texts: learn from the captions of this many Shapes train-split scenes (data seed 1, as train-default)", DefaultValueFactory = _ => 20_000 };
        var cmd = new Command("retokenize", "Give a model a domain tokenizer (its words as single tokens) and adapt its embedding rows") { model, output, texts, shapes };
        cmd.SetAction(p =>
        {
            IEnumerable<string> lines;
            if (p.GetValue(texts) is { } file)
            {
                if (!File.Exists(file)) throw new NextStepException($"--texts {file}: file not found");
                lines = File.ReadLines(file).Where(l => l.Length > 0).ToList();
                if (!lines.Any()) throw new NextStepException($"--texts {file}: no text in the file (expected one domain text per line)");
            }
            else
            {
                int n = p.GetValue(shapes);
                if (n < 1) throw new NextStepException($"--shapes {n}: expected at least 1 scene");
                lines = ShapesDataset.Scenes(1, n).Select(s => s.Caption).ToList();
            }
            var result = Retokenize.Run(p.GetValue(model)!, p.GetValue(output)!, lines);
            p.InvocationConfiguration.Output.WriteLine(
                $"{result.DomainMerges} domain merges; embedding rows: {result.KeptRows} kept, {result.AveragedRows} averaged from the old spelling; wrote {p.GetValue(output)}");
            return 0;
        });
        return cmd;
    }
}
