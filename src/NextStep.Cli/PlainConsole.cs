using Spectre.Console;

namespace NextStep.Cli;

/// <summary>A Spectre console that writes to a command's output writer as plain text (no ANSI codes, no colours), so tables read the same in a terminal, a pipe and a test.</summary>
public static class PlainConsole
{
    public static IAnsiConsole For(TextWriter output) =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
}
