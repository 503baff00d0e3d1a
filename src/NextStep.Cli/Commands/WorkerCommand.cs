using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class WorkerCommand
{
    public static Command Create()
    {
        var cmd = new Command("worker", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep worker' is not implemented yet"));
        return cmd;
    }
}
