using Microsoft.Extensions.Logging;
using NextStep.Server.Generation;
using Quartz;

namespace NextStep.Server.Jobs;

/// <summary>
/// The Quartz.NET job that runs one accepted request. It is marked "requests recovery", so a firing lost to a crash
/// (kill -9 of this process, or of a worker node in a cluster) is fired again; the guarded writes in
/// <see cref="JobStore"/> make that re-run harmless.
/// </summary>
public sealed class GenerateJob(JobStore store, LiveJobs live, IImageGenerator generator, ServerMetrics metrics, ILogger<GenerateJob> log) : IJob
{
    public const string JobIdKey = "jobId";
    private static readonly string Node = $"{Environment.MachineName}:{Environment.ProcessId}";
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken shutdown = default)
    {
        var id = context.JobDetail.JobDataMap.GetString(JobIdKey)!;
        var spec = await store.LoadSpec(id);
        if (spec is null || !await store.MarkRunning(id, Node)) return;
        if (context.Recovering) log.LogInformation("job {Id}: re-running after an interrupted attempt", id);

        var cts = live.Begin(id, shutdown);
        var pump = PumpProgress(id, cts);
        var started = DateTime.UtcNow;
        try
        {
            var images = await generator.GenerateAsync(spec, new Progress(live, id), cts.Token);
            if (await store.Complete(id, images))
                metrics.JobFinished(spec.TokensPerImage * spec.N, DateTime.UtcNow - started);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            log.LogInformation("job {Id}: interrupted by shutdown, it will run again on restart", id);
            throw;
        }
        catch (OperationCanceledException)
        {
            log.LogInformation("job {Id}: cancelled", id);
        }
        catch (Exception e)
        {
            log.LogWarning(e, "job {Id} failed", id);
            await store.Fail(id, e is NextStepException ? e.Message
                : StorageFull.Is(e) ? $"cannot store the result: {StorageFull.Message}"
                : $"generation failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            await cts.CancelAsync();
            await pump;
            live.End(id);
        }
    }

    /// <summary>Copies live progress to the database a few times a second and notices a cancel made on another node.</summary>
    private async Task PumpProgress(string id, CancellationTokenSource cts)
    {
        (int, int)? written = null;
        try
        {
            while (!cts.IsCancellationRequested)
            {
                await Task.Delay(ProgressInterval, cts.Token);
                var p = live.Progress(id);
                if (p is null || p == written) continue;
                if (!await store.ReportProgress(id, p.Value.Done, p.Value.Total)) { await cts.CancelAsync(); return; }
                written = p;
            }
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>Synchronous progress sink: the generator calls it once per token on its own thread.</summary>
    private sealed class Progress(LiveJobs live, string id) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => live.Report(id, value.Done, value.Total);
    }
}
