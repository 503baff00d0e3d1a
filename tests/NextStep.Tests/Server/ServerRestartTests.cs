using System.Net.Http.Json;
using System.Text.Json;
using NextStep.Server;
using NextStep.Server.Generation;
using NextStep.Server.Jobs;
using Xunit;

namespace NextStep.Tests.Server;

/// <summary>Durability on one node: stopping the server mid-job and starting it again on the same SQLite file.</summary>
public sealed class ServerRestartTests
{
    [Fact]
    public async Task Jobs_accepted_before_a_stop_complete_exactly_once_after_restart()
    {
        var dir = TempDir.Create();
        try
        {
            var options = new ServerOptions { DbPath = Path.Combine(dir, "jobs.db") };
            var slow = new FakeImageGenerator(TimeSpan.FromSeconds(3));
            string running, queued;
            await using (var first = await RunningServer.Start(options, slow))
            {
                running = (await first.PostJob(new { prompt = "interrupted", size = "256x256", seed = 1 })).GetProperty("id").GetString()!;
                queued = (await first.PostJob(new { prompt = "waiting", size = "256x256", seed = 2 })).GetProperty("id").GetString()!;
                await first.WaitFor(running, until: j => j.GetProperty("progress").GetProperty("done").GetInt32() > 0);
                await first.Stop();
            }

            var store = new JobStore(Database.Sqlite(options.DbPath));
            Assert.Equal(JobStates.Running, (await store.Get(running))!.State);
            Assert.Equal(JobStates.Queued, (await store.Get(queued))!.State);

            await using (var second = await RunningServer.Start(options, new FakeImageGenerator(TimeSpan.FromMilliseconds(200))))
            {
                var a = await second.WaitFor(running, "succeeded");
                var b = await second.WaitFor(queued, "succeeded");
                Assert.Single(a.GetProperty("images").EnumerateArray());
                Assert.Single(b.GetProperty("images").EnumerateArray());
            }
            var ra = (await store.Get(running))!;
            var rb = (await store.Get(queued))!;
            Assert.Equal((2, 1, 1), (ra.Attempts, ra.ResultWrites, ra.ImageCount));
            Assert.Equal((1, 1, 1), (rb.Attempts, rb.ResultWrites, rb.ImageCount));
            Assert.NotNull(await store.GetImage(running, 0));
            Assert.Null(await store.GetImage(running, 1));
        }
        finally
        {
            TempDir.Delete(dir);
        }
    }

    [Fact]
    public async Task A_server_killed_with_sigkill_mid_job_finishes_the_job_once_after_restart()
    {
        var dir = TempDir.Create();
        var db = Path.Combine(dir, "jobs.db");
        var port = PostgresCluster.FreePort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        // The fake job must outlast the poll-and-kill below even on a busy machine (2 s was once too short with the
        // whole suite running on two cores: the job had succeeded before the kill).
        string[] args = ["serve", "--fake", "--fake-ms", "6000", "--db", db, "--port", port.ToString()];
        var server = CliProcess.Start(Path.Combine(dir, "first.log"), args);
        try
        {
            await WaitHealthy(http, server, Path.Combine(dir, "first.log"));
            var res = await http.PostAsJsonAsync("/v1/jobs", new { prompt = "killed", size = "256x256", seed = 4 });
            var id = (await res.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
            var store = new JobStore(Database.Sqlite(db));
            while ((await store.Get(id))!.ProgressDone == 0) await Task.Delay(50);
            await CliProcess.KillHard(server);
            Assert.Equal(JobStates.Running, (await store.Get(id))!.State);

            server = CliProcess.Start(Path.Combine(dir, "second.log"), args);
            await WaitHealthy(http, server, Path.Combine(dir, "second.log"));
            JobRecord job;
            for (var deadline = DateTime.UtcNow.AddSeconds(30); (job = (await store.Get(id))!).State != JobStates.Succeeded;)
            {
                Assert.True(DateTime.UtcNow < deadline, $"job still {job.State}: " + File.ReadAllText(Path.Combine(dir, "second.log")));
                await Task.Delay(100);
            }
            Assert.Equal((2, 1, 1), (job.Attempts, job.ResultWrites, job.ImageCount));
            Assert.Equal("image/png", (await http.GetAsync($"/v1/images/{id}-0.png")).Content.Headers.ContentType!.MediaType);
        }
        finally
        {
            await CliProcess.KillHard(server);
            TempDir.Delete(dir);
        }
    }

    private static async Task WaitHealthy(HttpClient http, System.Diagnostics.Process server, string log)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); ;)
        {
            Assert.False(server.HasExited, "the server exited: " + File.ReadAllText(log));
            try
            {
                if ((await http.GetAsync("/healthz")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            Assert.True(DateTime.UtcNow < deadline, "the server did not answer /healthz: " + File.ReadAllText(log));
            await Task.Delay(100);
        }
    }
}
