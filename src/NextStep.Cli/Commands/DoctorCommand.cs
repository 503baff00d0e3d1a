using System.CommandLine;

namespace NextStep.Cli.Commands;

public static class DoctorCommand
{
    public static Command Create()
    {
        var cmd = new Command("doctor", "(not implemented yet)");
        cmd.SetAction(_ => CliApp.NotImplemented("'nextstep doctor' is not implemented yet"));
        return cmd;
    }
}
