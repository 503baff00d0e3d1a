using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class EvalCommand
{
    public static Command Create()
    {
        var cmd = new Command("eval", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep eval' is not implemented yet"));
        return cmd;
    }
}
