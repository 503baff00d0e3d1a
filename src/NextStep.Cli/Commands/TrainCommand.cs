using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class TrainCommand
{
    public static Command Create()
    {
        var cmd = new Command("train", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep train' is not implemented yet"));
        return cmd;
    }
}
