using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class BenchCommand
{
    public static Command Create()
    {
        var cmd = new Command("bench", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep bench' is not implemented yet"));
        return cmd;
    }
}
