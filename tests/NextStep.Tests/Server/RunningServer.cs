using Xunit;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using NextStep.Server;
using NextStep.Server.Generation;

namespace NextStep.Tests.Server;

/// <summary>The real server (Kestrel on 127.0.0.1, a free port) over a SQLite file in a temporary folder, with the fake generator.</summary>
public sealed class RunningServer : IAsyncDisposable
{
    public required WebApplication App { get; init; }
    public required string Url { get; init; }
    public required HttpClient Http { get; init; }
    public required ServerOptions Options { get; init; }
    public string? OwnedDir { get; init; }
    private bool _stopped;

    public static async Task<RunningServer> Start(ServerOptions? options = null, IImageGenerator? generator = null)
    {
        var o = (options ?? new ServerOptions()) with { Port = 0, Quiet = true };
        string? owned = null;
        if (o.Postgres is null && o.DbPath == new ServerOptions().DbPath) o = o with { DbPath = Path.Combine(owned = TempDir.Create(), "jobs.db") };
        var app = NextStepServer.BuildServer(o, generator ?? new FakeImageGenerator(TimeSpan.FromMilliseconds(300)));
        await app.StartAsync();
        var url = app.Urls.Single();
        return new RunningServer { App = app, Url = url, Http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) }, Options = o, OwnedDir = owned };
    }

    public void UseKey(string key) => Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

    public async Task<JsonElement> PostJob(object body)
    {
        var res = await Http.PostAsJsonAsync("/v1/jobs", body);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, res.StatusCode);
        return await res.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<JsonElement> GetJob(string id) => await Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}");

    /// <summary>Polls until the job reaches <paramref name="state"/> (or any final state when null).</summary>
    public async Task<JsonElement> WaitFor(string id, string? state = null, TimeSpan? timeout = null, Func<JsonElement, bool>? until = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var job = await GetJob(id);
            var s = job.GetProperty("state").GetString();
            if (until?.Invoke(job) ?? (state is null ? s is "succeeded" or "failed" or "cancelled" : s == state)) return job;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {id} still {s}: {job}");
            await Task.Delay(50);
        }
    }

    public async Task Stop()
    {
        if (_stopped) return;
        _stopped = true;
        await App.StopAsync();
        await App.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Stop();
        if (OwnedDir is not null) TempDir.Delete(OwnedDir);
    }
}

public static class TempDir
{
    public static string Create()
    {
        var dir = Path.Combine(Path.GetTempPath(), "nextstep-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void Delete(string dir)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }
}
