using System.Diagnostics;
using System.Text.Json;
using NextStep.Server;
using NextStep.Server.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace NextStep.Tests.Server;

/// <summary>
/// Multi-node durability: an API-only server and two 'nextstep worker' processes share a PostgreSQL store;
/// one worker is killed with SIGKILL while it runs jobs, and every job still completes exactly once.
/// </summary>
public sealed class ServerClusterTests(ITestOutputHelper output)
{
    private const int Jobs = 20;

    [Fact]
    public async Task Twenty_jobs_survive_a_worker_killed_midway_and_complete_exactly_once()
    {
        var sw = Stopwatch.StartNew();
        using var pg = PostgresCluster.Start();
        output.WriteLine($"pg {sw.ElapsedMilliseconds}");
        await using var api = await RunningServer.Start(new ServerOptions { Postgres = pg.ConnectionString, Workers = 0, MaxQueue = 64 });
        output.WriteLine($"api {sw.ElapsedMilliseconds}");
        var logs = TempDir.Create();
        var victim = StartWorker(pg.ConnectionString, Path.Combine(logs, "a.log"));
        var survivor = StartWorker(pg.ConnectionString, Path.Combine(logs, "b.log"));
        try
        {
            var posted = await Task.WhenAll(Enumerable.Range(0, Jobs).Select(i => api.PostJob(new { prompt = $"job {i}", size = "256x256", seed = i })));
            var ids = posted.Select(j => j.GetProperty("id").GetString()!).ToList();

            output.WriteLine($"posted {sw.ElapsedMilliseconds}");
            var store = new JobStore(Database.Postgres(pg.ConnectionString));
            var victimTag = $":{victim.Id}";
            var deadline = DateTime.UtcNow.AddSeconds(60);
            List<JobRecord> onVictim;
            while ((onVictim = (await store.Unfinished()).Where(j => j.State == JobStates.Running && j.Worker!.EndsWith(victimTag) && j.ProgressDone > 0).ToList()).Count == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the first worker never picked up a job: " + File.ReadAllText(Path.Combine(logs, "a.log")));
                await Task.Delay(50);
            }
            await CliProcess.KillHard(victim);
            output.WriteLine($"killed worker {victim.Id} while it ran {string.Join(", ", onVictim.Select(j => j.Id))}");

            output.WriteLine($"killed {sw.ElapsedMilliseconds}");
            foreach (var id in ids) await api.WaitFor(id, "succeeded", TimeSpan.FromSeconds(90));
            output.WriteLine($"all done {sw.ElapsedMilliseconds}");

            foreach (var id in ids)
            {
                var j = (await store.Get(id))!;
                Assert.Equal((JobStates.Succeeded, 1, 1), (j.State, j.ResultWrites, j.ImageCount));
                Assert.NotNull(await store.GetImage(id, 0));
            }
            foreach (var lost in onVictim)
            {
                var j = (await store.Get(lost.Id))!;
                Assert.True(j.Attempts >= 2, $"job {j.Id} was interrupted but ran {j.Attempts} time(s)");
                Assert.EndsWith($":{survivor.Id}", j.Worker);
            }
            var metrics = await api.Http.GetStringAsync("/metrics");
            Assert.Contains($"nextstep_jobs_done_total {Jobs}\n", metrics);
            Assert.Contains("nextstep_queue_depth 0\n", metrics);
        }
        finally
        {
            foreach (var w in new[] { victim, survivor }) await CliProcess.KillHard(w);
            TempDir.Delete(logs);
        }
    }

    private static Process StartWorker(string connectionString, string log) =>
        CliProcess.Start(log, "worker", "--postgres", connectionString, "--fake", "--fake-ms", "800", "--workers", "2");
}
