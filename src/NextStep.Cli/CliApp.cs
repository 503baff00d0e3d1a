using System.CommandLine;
using NextStep.Cli.Commands;

namespace NextStep.Cli;

/// <summary>The <c>nextstep</c> command tree. Each command lives in its own file under Commands/.</summary>
public static class CliApp
{
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Print stack traces on errors", Recursive = true };

    public static RootCommand Build()
    {
        var root = new RootCommand("NextStep.NET: NextStep-1 text-to-image and image editing in .NET");
        root.Options.Add(Verbose);
        foreach (var c in new[]
        {
            GenerateCommand.Create("generate", "Generate images from a text prompt (or edit with --image)"),
            GenerateCommand.Create("edit", "Edit an image (--image) following a text instruction"),
            TokenizeCommand.Create(),
            BatchCommand.Create(),
            InfoCommand.Create(),
            ScoreCommand.Create(),
            DoctorCommand.Create(),
            BenchCommand.Create(),
            TrainCommand.Create(),
            TrainVaeCommand.Create(),
            TrainJudgeCommand.Create(),
            TrainDetectorCommand.Create(),
            TrainDefaultCommand.Create(),
            RetokenizeCommand.Create(),
            GrowCommand.Create(),
            CastCommand.Create(),
            AverageCommand.Create(),
            EvalCommand.Create(),
            ProbeVaeCommand.Create(),
            CompareCommand.Create(),
            ServeCommand.Create(),
            WorkerCommand.Create(),
        })
            root.Subcommands.Add(c);
        return root;
    }

    /// <summary>
    /// "--word" tokens that a command argument swallowed (e.g. <c>info --typo</c> would read "--typo" as a file name);
    /// after a "--" separator such tokens are meant as arguments.
    /// </summary>
    private static IEnumerable<string> UnknownOptions(ParseResult parse, string[] args) =>
        args.Contains("--") ? [] : parse.CommandResult.Children.OfType<System.CommandLine.Parsing.ArgumentResult>()
            .SelectMany(a => a.Tokens).Where(t => t.Value.Length > 2 && t.Value.StartsWith("--", StringComparison.Ordinal))
            .Select(t => $"Unrecognized option '{t.Value}'.");

    public static int NotImplemented(string message) => throw new NextStepException(message);

    /// <summary>Runs the CLI: user errors become one line on stderr and a non-zero exit code.</summary>
    public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        var config = new InvocationConfiguration { Output = stdout ?? Console.Out, Error = stderr ?? Console.Error, EnableDefaultExceptionHandler = false };
        var parse = Build().Parse(args);
        var errors = UnknownOptions(parse, args).Concat(parse.Errors.Select(e => e.Message.ReplaceLineEndings(" ").Trim())).ToList();
        if (errors.Count > 0)
        {
            (stderr ?? Console.Error).WriteLine($"error: {string.Join(" ", errors)} (see --help)");
            return 2;
        }
        try
        {
            return parse.Invoke(config);
        }
        catch (Exception e)
        {
            var err = stderr ?? Console.Error;
            var inner = e is System.Reflection.TargetInvocationException { InnerException: { } ie } ? ie : e;
            err.WriteLine(inner switch
            {
                NextStepException => $"error: {inner.Message}",
                OperationCanceledException => "error: cancelled",
                _ => $"error: {inner.GetType().Name}: {inner.Message}",
            });
            if (parse.GetValue(Verbose)) err.WriteLine(inner.ToString());
            return inner is OperationCanceledException ? 130 : 1;
        }
    }
}
