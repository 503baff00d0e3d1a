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
}
