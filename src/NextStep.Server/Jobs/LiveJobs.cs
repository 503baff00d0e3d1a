using System.Collections.Concurrent;

namespace NextStep.Server.Jobs;

/// <summary>
/// Jobs running in this process: per-token progress for the event stream and a handle to cancel them.
/// Jobs running on another node are seen through the database instead.
/// </summary>
public sealed class LiveJobs
{
    private sealed class Live(CancellationTokenSource cts)
    {
        public readonly CancellationTokenSource Cts = cts;
        public (int Done, int Total) Progress;
        public TaskCompletionSource Changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly ConcurrentDictionary<string, Live> _live = new();
    private TaskCompletionSource _anyChange = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CancellationTokenSource Begin(string id, CancellationToken outer)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _live[id] = new Live(cts);
        return cts;
    }

    public void Report(string id, int done, int total)
    {
        if (!_live.TryGetValue(id, out var l)) return;
        l.Progress = (done, total);
        Interlocked.Exchange(ref l.Changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public void End(string id)
    {
        if (_live.TryRemove(id, out var l)) { l.Changed.TrySetResult(); l.Cts.Dispose(); }
        Interlocked.Exchange(ref _anyChange, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public bool Cancel(string id)
    {
        if (!_live.TryGetValue(id, out var l)) return false;
        try { l.Cts.Cancel(); } catch (ObjectDisposedException) { }
        return true;
    }

    public (int Done, int Total)? Progress(string id) => _live.TryGetValue(id, out var l) ? l.Progress : null;

    /// <summary>
    /// Waits until the job reports progress or ends here, or the timeout passes (then the caller re-reads the database);
    /// throws once <paramref name="ct"/> (the client's connection) is cancelled.
    /// </summary>
    public async Task WaitForChange(string id, TimeSpan timeout, CancellationToken ct)
    {
        var signal = _live.TryGetValue(id, out var l) ? l.Changed.Task : _anyChange.Task;
        await Task.WhenAny(signal, Task.Delay(timeout, ct));
        ct.ThrowIfCancellationRequested();
    }
}
