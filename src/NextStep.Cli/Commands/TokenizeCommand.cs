using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class TokenizeCommand
{
    public static Command Create()
    {
        var cmd = new Command("tokenize", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep tokenize' is not implemented yet"));
        return cmd;
    }
}
