namespace NextStep.Server.Jobs;

/// <summary>Counters for this process; job counts by state come from the shared database.</summary>
public sealed class ServerMetrics
{
    private long _tokens, _jobsDone, _generationTicks;
    private double _lastTokensPerSecond;

    public void JobFinished(int tokens, TimeSpan elapsed)
    {
        Interlocked.Add(ref _tokens, tokens);
        Interlocked.Add(ref _generationTicks, elapsed.Ticks);
        Interlocked.Increment(ref _jobsDone);
        _lastTokensPerSecond = tokens / Math.Max(elapsed.TotalSeconds, 1e-6);
    }

    public long Tokens => Interlocked.Read(ref _tokens);
    public long JobsDone => Interlocked.Read(ref _jobsDone);
    public double GenerationSeconds => TimeSpan.FromTicks(Interlocked.Read(ref _generationTicks)).TotalSeconds;
    public double LastTokensPerSecond => _lastTokensPerSecond;
}
