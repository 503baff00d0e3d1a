using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NextStep.Server.Generation;
using Quartz;

namespace NextStep.Server.Jobs;

/// <summary>
/// Accepts jobs into the database and the Quartz.NET store, cancels them, and runs the scheduler's lifecycle: a node
/// with workers executes jobs, one with none (an API-only node) only schedules them.
/// </summary>
public sealed class JobQueue(ISchedulerFactory schedulers, JobStore store, LiveJobs live, ServerOptions options, ILogger<JobQueue> log) : IHostedService
{
    private const string Group = "generate";
    private IScheduler? _scheduler;

    private IScheduler Scheduler => _scheduler ?? throw new InvalidOperationException("the job queue has not started");

    public async Task StartAsync(CancellationToken ct)
    {
        try
        {
            store.EnsureSchema();
        }
        catch (System.Data.Common.DbException e)
        {
            throw new NextStepException($"{(options.Postgres is null ? $"--db '{options.DbPath}'" : "--postgres")}: cannot open the job database ({e.Message})");
        }
        _scheduler = await schedulers.GetScheduler(ct);
        await Reconcile(ct);
        if (options.Workers > 0) await _scheduler.Start(ct);
    }

    public async Task StopAsync(CancellationToken ct)
    {
        if (_scheduler is { } s) await s.Shutdown(waitForJobsToComplete: false, ct);
    }

    /// <summary>Records the job, then hands it to the scheduler; a crash between the two is repaired by <see cref="Reconcile"/>.</summary>
    public async Task Enqueue(string id, string kind, GenerationJobSpec spec)
    {
        await store.Insert(id, kind, spec);
        try
        {
            await Schedule(id, CancellationToken.None);
        }
        catch (Exception e) when (StorageFull.Is(e))
        {
            // The caller is told the job was not accepted: withdraw the record so that a restart does not run it.
            try { await store.Cancel(id); } catch (Exception again) when (StorageFull.Is(again)) { }
            throw;
        }
    }

    public async Task<bool> Cancel(string id)
    {
        if (!await store.Cancel(id)) return false;
        live.Cancel(id);
        try
        {
            await Scheduler.DeleteJob(new JobKey(id, Group));
        }
        catch (SchedulerException)
        {
            // firing now, here or on another node: that run sees the cancelled record and stops by itself
        }
        return true;
    }

    private async Task Schedule(string id, CancellationToken ct)
    {
        var job = JobBuilder.Create<GenerateJob>().WithIdentity(id, Group).UsingJobData(GenerateJob.JobIdKey, id).RequestRecovery().Build();
        var trigger = TriggerBuilder.Create().WithIdentity(id, Group).StartNow().WithSimpleSchedule(s => s.WithMisfireInstruction(SimpleTriggerMisfireInstruction.IgnoreMisfires)).Build();
        try
        {
            await Scheduler.ScheduleJob(job, trigger, cancellationToken: ct);
        }
        catch (ObjectAlreadyExistsException) { }
    }

    /// <summary>Re-schedules accepted jobs the scheduler no longer holds (accepted just before a crash).</summary>
    private async Task Reconcile(CancellationToken ct)
    {
        foreach (var job in await store.Unfinished())
        {
            if (await Scheduler.Exists(new JobKey(job.Id, Group), ct)) continue;
            log.LogInformation("job {Id}: accepted but not scheduled, scheduling it again", job.Id);
            await Schedule(job.Id, ct);
        }
    }
}
