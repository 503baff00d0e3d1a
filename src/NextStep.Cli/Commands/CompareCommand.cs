using System.CommandLine;
using NextStep.Training.Shapes;
using Spectre.Console;

namespace NextStep.Cli.Commands;

/// <summary>
/// <c>nextstep compare --base A[,A2] --candidate B[,B2]</c>: paired comparison of two models' Shapes eval reports on the
/// same prompts and seeds (<see cref="ShapesEvalComparison"/>); several reports per side are pooled (disjoint seeds).
/// </summary>
public static class CompareCommand
{
    public static Command Create()
    {
        var baseline = new Option<string[]>("--base") { Description = "Eval folder(s) or report.json file(s) of the model to beat (repeat or separate with commas to pool seed ranges)", Required = true, AllowMultipleArgumentsPerToken = true };
        var candidate = new Option<string[]>("--candidate") { Description = "Eval folder(s) or report.json file(s) of the new model, same prompt set", Required = true, AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("compare", "Compare two Shapes eval reports image by image: accuracy on the shared images, images gained and lost, sign-test p") { baseline, candidate };
        cmd.SetAction(p =>
        {
            static IEnumerable<string> Split(string[] given) => given.SelectMany(g => g.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            var a = ShapesEvalComparison.Load(Split(p.GetValue(baseline)!));
            var b = ShapesEvalComparison.Load(Split(p.GetValue(candidate)!));
            var rows = ShapesEvalComparison.Compare(a, b);
            var console = PlainConsole.For(p.InvocationConfiguration.Output);
            console.Write(Table($"{a.PromptSet}: {rows[^1].Images} images in both (base {a.Items.Count}, candidate {b.Items.Count})", "category",
                rows.Select(r => (r.Category is { } c ? ShapesVocabulary.Name(c) : "overall", r))));
            var combinations = ShapesEvalComparison.CompareHeldOut(a, b);
            if (combinations.Count > 0)
                console.Write(Table("held-out combination in the prompt", "combination", combinations.Select(r => (r.Combination!, r))));
            return 0;
        });
        return cmd;
    }

    private static Table Table(string title, string firstColumn, IEnumerable<(string Label, ShapesEvalComparisonRow Row)> rows)
    {
        var table = new Table { Title = new TableTitle(title) };
        table.AddColumn(firstColumn);
        foreach (var name in new[] { "images", "base", "candidate", "gained", "lost", "sign-test p" }) table.AddColumn(new TableColumn(name).RightAligned());
        foreach (var (label, r) in rows)
            table.AddRow(label, r.Images.ToString(), $"{r.Base:F3}", $"{r.Candidate:F3}", $"+{r.Gained}", $"-{r.Lost}", $"{r.SignTestP:F3}");
        return table;
    }
}
