using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class GenerateCommand
{
    public static Command Create(string name, string description)
    {
        var cmd = new Command(name, description);
        cmd.SetAction(_ => CliApp.NotImplemented($"'nextstep {name}' is not implemented yet"));
        return cmd;
    }
}
