using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class InfoCommand
{
    public static Command Create()
    {
        var cmd = new Command("info", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep info' is not implemented yet"));
        return cmd;
    }
}
