using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class BatchCommand
{
    public static Command Create()
    {
        var cmd = new Command("batch", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep batch' is not implemented yet"));
        return cmd;
    }
}
