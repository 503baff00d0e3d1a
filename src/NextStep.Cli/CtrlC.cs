namespace NextStep.Cli;

/// <summary>
/// The first Ctrl-C cancels the token (generation stops before its next image token, finished images stay);
/// a second one ends the process.
/// </summary>
public sealed class CtrlC : IDisposable
{
    private readonly CancellationTokenSource cts = new();
    private readonly ConsoleCancelEventHandler handler;

    public CtrlC()
    {
        handler = (_, e) =>
        {
            if (cts.IsCancellationRequested) return;
            e.Cancel = true;
            cts.Cancel();
        };
        Console.CancelKeyPress += handler;
    }

    public CancellationToken Token => cts.Token;

    public void Dispose()
    {
        Console.CancelKeyPress -= handler;
        cts.Dispose();
    }
}
