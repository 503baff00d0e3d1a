using NextStep.Cli;

namespace NextStep.Tests.Cli;

/// <summary>Runs the CLI in-process and captures its output.</summary>
public static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }
}
