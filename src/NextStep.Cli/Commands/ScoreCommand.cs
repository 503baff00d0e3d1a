using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class ScoreCommand
{
    public static Command Create()
    {
        var cmd = new Command("score", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep score' is not implemented yet"));
        return cmd;
    }
}
