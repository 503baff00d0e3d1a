using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class ServeCommand
{
    public static Command Create()
    {
        var cmd = new Command("serve", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep serve' is not implemented yet"));
        return cmd;
    }
}
