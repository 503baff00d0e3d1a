using Xunit;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using NextStep.Server;
using NextStep.Server.Generation;
using SkiaSharp;

namespace NextStep.Tests.Server;

/// <summary>Every endpoint of a running server with the fake generator: results, job API, events, cancellation, OpenAPI, UI.</summary>
public sealed class ServerApiTests(ServerApiTests.Shared shared) : IClassFixture<ServerApiTests.Shared>
{
    /// <summary>One server for the tests that do not depend on its counters.</summary>
    public sealed class Shared : IAsyncLifetime
    {
        public RunningServer Server { get; private set; } = null!;
        public async Task InitializeAsync() => Server = await RunningServer.Start();
        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    private readonly RunningServer _s = shared.Server;

    private static SKBitmap Decode(byte[] png) => SKBitmap.Decode(png) ?? throw new Xunit.Sdk.XunitException("not a decodable image");

    /// <summary>The fake draws a gradient fixed by the seed; the server must return exactly those pixels, seed+i for picture i.</summary>
    private static void AssertFakePicture(byte[] png, int width, int height, long seed)
    {
        using var got = Decode(png);
        using var want = Decode(FakeImageGenerator.Draw(width, height, seed).Png);
        Assert.Equal((width, height), (got.Width, got.Height));
        Assert.Equal(want.Bytes, got.Bytes);
    }

    [Fact]
    public async Task Generations_b64_json_returns_n_pictures_of_the_requested_size_and_seed()
    {
        var res = await _s.Http.PostAsJsonAsync("/v1/images/generations", new { prompt = "a red fox", n = 2, size = "256x256", seed = 7, response_format = "b64_json" });
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var body = await res.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.GetProperty("created").GetInt64() > 1_700_000_000);
        var data = body.GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal(2, data.Length);
        for (int i = 0; i < 2; i++) AssertFakePicture(Convert.FromBase64String(data[i].GetProperty("b64_json").GetString()!), 256, 256, 7 + i);
    }

    [Fact]
    public async Task Generations_url_points_to_a_downloadable_png()
    {
        var res = await _s.Http.PostAsJsonAsync("/v1/images/generations", new { prompt = "a lighthouse", size = "544x480", seed = 3 });
        var body = await res.Content.ReadFromJsonAsync<JsonElement>();
        var url = body.GetProperty("data")[0].GetProperty("url").GetString()!;
        Assert.StartsWith(_s.Url + "/v1/images/", url);
        var img = await _s.Http.GetAsync(url);
        Assert.Equal("image/png", img.Content.Headers.ContentType!.MediaType);
        AssertFakePicture(await img.Content.ReadAsByteArrayAsync(), 544, 480, 3);
    }

    [Fact]
    public async Task Edits_accept_a_multipart_image_and_record_cfg_img()
    {
        using var form = EditForm(FakeImageGenerator.Draw(64, 64, 1).Png, ("prompt", "make it blue"), ("cfg_img", "1.5"), ("size", "256x256"), ("seed", "11"), ("response_format", "b64_json"));
        var res = await _s.Http.PostAsync("/v1/images/edits", form);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var body = await res.Content.ReadFromJsonAsync<JsonElement>();
        AssertFakePicture(Convert.FromBase64String(body.GetProperty("data")[0].GetProperty("b64_json").GetString()!), 256, 256, 11);
        var job = await _s.GetJob(res.Headers.GetValues("X-Job-Id").Single());
        Assert.Equal("edit", job.GetProperty("kind").GetString());
        Assert.Equal(1.5, job.GetProperty("params").GetProperty("cfg_img").GetDouble());
        Assert.Equal("Copy original image.", job.GetProperty("params").GetProperty("negative_prompt").GetString());
    }

    [Fact]
    public async Task Job_api_queues_reports_and_lists_a_job_with_its_parameters()
    {
        var job = await _s.PostJob(new { prompt = "a boat", size = "256x256", seed = 5, steps = 20, cfg = 4.5, shift = 2.0, use_norm = false, preset = "fast", negative_prompt = "blur" });
        var id = job.GetProperty("id").GetString()!;
        Assert.Equal(32, id.Length);
        Assert.Contains(job.GetProperty("state").GetString(), new[] { "queued", "running" });
        Assert.Equal(256, job.GetProperty("progress").GetProperty("total").GetInt32());

        var done = await _s.WaitFor(id, "succeeded");
        Assert.Equal(256, done.GetProperty("progress").GetProperty("done").GetInt32());
        var p = done.GetProperty("params");
        Assert.Equal((20, 4.5, 2.0, false, "fast", "blur"), (p.GetProperty("steps").GetInt32(), p.GetProperty("cfg").GetDouble(), p.GetProperty("shift").GetDouble(),
            p.GetProperty("use_norm").GetBoolean(), p.GetProperty("preset").GetString(), p.GetProperty("negative_prompt").GetString()));
        var url = done.GetProperty("images")[0].GetProperty("url").GetString()!;
        AssertFakePicture(await _s.Http.GetByteArrayAsync(url), 256, 256, 5);

        var list = await _s.Http.GetFromJsonAsync<JsonElement>("/v1/jobs?limit=10");
        Assert.Contains(list.GetProperty("data").EnumerateArray(), j => j.GetProperty("id").GetString() == id);
    }

    [Fact]
    public async Task Events_stream_per_token_progress_then_done()
    {
        await using var slow = await RunningServer.Start(generator: new FakeImageGenerator(TimeSpan.FromSeconds(2)));
        var id = (await slow.PostJob(new { prompt = "stars", size = "256x256" })).GetProperty("id").GetString()!;
        var events = await ReadEvents(slow, id);
        var progress = events.Where(e => e.Event == "progress").Select(e => e.Data).ToList();
        var running = progress.Where(d => d.GetProperty("state").GetString() == "running").Select(d => d.GetProperty("done").GetInt32()).ToList();
        Assert.True(running.Count >= 5, $"expected several progress events, got {running.Count}");
        Assert.Equal(running.Order(), running);
        Assert.All(progress, d => Assert.Equal(256, d.GetProperty("total").GetInt32()));
        Assert.Equal("done", events[^1].Event);
        Assert.Equal("succeeded", events[^1].Data.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Cancel_stops_a_running_job_and_a_second_cancel_is_a_conflict()
    {
        await using var slow = await RunningServer.Start(generator: new FakeImageGenerator(TimeSpan.FromSeconds(20)));
        var id = (await slow.PostJob(new { prompt = "slow", size = "256x256" })).GetProperty("id").GetString()!;
        await slow.WaitFor(id, until: j => j.GetProperty("progress").GetProperty("done").GetInt32() > 0 || j.GetProperty("state").GetString() == "running");
        var res = await slow.Http.DeleteAsync($"/v1/jobs/{id}");
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal("cancelled", (await res.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
        await AssertError(await slow.Http.DeleteAsync($"/v1/jobs/{id}"), 409, "job_not_cancellable");
        await Task.Delay(500);
        var job = await slow.GetJob(id);
        Assert.Equal("cancelled", job.GetProperty("state").GetString());
        Assert.Empty(job.GetProperty("images").EnumerateArray());
        var metrics = await slow.Http.GetStringAsync("/metrics");
        Assert.Contains("nextstep_jobs_cancelled_total 1\n", metrics);
    }

    [Fact]
    public async Task A_client_that_leaves_a_synchronous_request_still_gets_its_job_finished_in_history()
    {
        await using var slow = await RunningServer.Start(generator: new FakeImageGenerator(TimeSpan.FromSeconds(3)));
        using var cts = new CancellationTokenSource();
        var request = slow.Http.PostAsJsonAsync("/v1/images/generations", new { prompt = "left early", size = "256x256" }, cts.Token);
        // The client leaves only once the server has recorded the job (a timer could fire before the request arrives).
        JsonElement list = default;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(20))
        {
            list = await slow.Http.GetFromJsonAsync<JsonElement>("/v1/jobs");
            if (list.GetProperty("data").GetArrayLength() > 0) break;
        }
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        var id = Assert.Single(list.GetProperty("data").EnumerateArray()).GetProperty("id").GetString()!;
        Assert.Single((await slow.WaitFor(id, "succeeded")).GetProperty("images").EnumerateArray());
    }

    [Fact]
    public async Task Health_metrics_models_openapi_and_ui_are_served()
    {
        await using var _s = await RunningServer.Start();
        Assert.Equal("ok", (await _s.Http.GetFromJsonAsync<JsonElement>("/healthz")).GetProperty("status").GetString());
        await _s.Http.PostAsJsonAsync("/v1/images/generations", new { prompt = "x", size = "256x256" });
        var metrics = await _s.Http.GetStringAsync("/metrics");
        foreach (var line in new[] { "# TYPE nextstep_queue_depth gauge", "nextstep_queue_depth 0", "nextstep_jobs_done_total 1", "nextstep_jobs_failed_total 0", "nextstep_node_tokens_total 256", "nextstep_tokens_per_second " })
            Assert.Contains(line, metrics);
        Assert.Equal("nextstep-fake", (await _s.Http.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data")[0].GetProperty("id").GetString());

        var doc = await _s.Http.GetFromJsonAsync<JsonElement>("/openapi.json");
        Assert.StartsWith("3.", doc.GetProperty("openapi").GetString());
        var paths = doc.GetProperty("paths");
        foreach (var path in new[] { "/v1/images/generations", "/v1/images/edits", "/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/events", "/v1/images/{file}", "/healthz", "/metrics" })
            Assert.True(paths.TryGetProperty(path, out _), $"OpenAPI document lacks {path}");

        var html = await _s.Http.GetStringAsync("/");
        Assert.Contains("id=\"prompt\"", html);
        Assert.Contains("function follow", await _s.Http.GetStringAsync("/app.js"));
        Assert.Equal("text/css", (await _s.Http.GetAsync("/app.css")).Content.Headers.ContentType!.MediaType);
    }

    public static TheoryData<string, string, string, int, string?> BadJson => new()
    {
        // endpoint, content type, body, status, param
        { "/v1/images/generations", "application/json", "{not json", 400, null },
        { "/v1/images/generations", "application/json", "[1,2]", 400, null },
        { "/v1/images/generations", "application/json", "{}", 400, "prompt" },
        { "/v1/images/generations", "application/json", """{"prompt":"   "}""", 400, "prompt" },
        { "/v1/images/generations", "application/json", """{"prompt":42}""", 400, "prompt" },
        { "/v1/images/generations", "application/json", $$"""{"prompt":"{{new string('a', 2001)}}"}""", 400, "prompt" },
        { "/v1/images/generations", "application/json", $$"""{"prompt":"a","negative_prompt":"{{new string('a', 2001)}}"}""", 400, "negative_prompt" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","n":0}""", 400, "n" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","n":5}""", 400, "n" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","n":"two"}""", 400, "n" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","n":1.5}""", 400, "n" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","size":"1024x1024"}""", 400, "size" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","size":"big"}""", 400, "size" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","steps":1}""", 400, "steps" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","steps":1000}""", 400, "steps" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","cfg":0.5}""", 400, "cfg" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","cfg":1e400}""", 400, "cfg" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","shift":0}""", 400, "shift" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","seed":-1}""", 400, "seed" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","seed":99999999999}""", 400, "seed" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","use_norm":"maybe"}""", 400, "use_norm" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","preset":"turbo"}""", 400, "preset" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","response_format":"jpeg"}""", 400, "response_format" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","cfg_img":2}""", 400, "cfg_img" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","candidates":0}""", 400, "candidates" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","candidates":17}""", 400, "candidates" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","output_format":"webp"}""", 400, "output_format" },
        { "/v1/images/generations", "application/json", """{"prompt":"a","colour":"red"}""", 400, "colour" },
        { "/v1/jobs", "application/json", """{"prompt":"a","image":"aGVsbG8="}""", 400, "image" },
        { "/v1/images/generations", "text/plain", "a cat", 415, null },
        { "/v1/jobs", "application/json", """{"prompt":"a","n":9}""", 400, "n" },
        { "/v1/jobs", "application/xml", "<prompt/>", 415, null },
        { "/v1/images/edits", "application/json", """{"prompt":"a"}""", 415, null },
    };

    [Theory]
    [MemberData(nameof(BadJson))]
    public async Task Bad_requests_get_an_openai_error_never_a_500(string path, string contentType, string body, int status, string? param)
    {
        var res = await _s.Http.PostAsync(path, new StringContent(body, Encoding.UTF8, contentType));
        var error = await AssertError(res, status, null);
        Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Bad_edits_uploads_routes_and_ids_get_openai_errors()
    {
        await AssertError(await _s.Http.PostAsync("/v1/images/edits", EditForm(null, ("prompt", "x"))), 400, "missing_required_parameter");
        await AssertError(await _s.Http.PostAsync("/v1/images/edits", EditForm("not an image"u8.ToArray(), ("prompt", "x"))), 400, "invalid_value");
        await AssertError(await _s.Http.PostAsync("/v1/images/edits", EditForm(FakeImageGenerator.Draw(8, 8, 1).Png, ("prompt", "x"))), 400, "invalid_value");
        await AssertError(await _s.Http.PostAsync("/v1/images/edits", EditForm(FakeImageGenerator.Draw(32, 32, 1).Png, ("prompt", "x"), ("cfg", "1"), ("cfg_img", "2"))), 400, "invalid_value");
        await AssertError(await _s.Http.PostAsync("/v1/images/edits", EditForm(FakeImageGenerator.Draw(32, 32, 1).Png, ("prompt", "x"), ("candidates", "4"))), 400, "invalid_value");
        var withMask = EditForm(FakeImageGenerator.Draw(32, 32, 1).Png, ("prompt", "x"));
        withMask.Add(new ByteArrayContent(FakeImageGenerator.Draw(32, 32, 2).Png), "mask", "mask.png");
        await AssertError(await _s.Http.PostAsync("/v1/images/edits", withMask), 400, "invalid_value");
        var broken = new StringContent("--x\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nunterminated", Encoding.UTF8);
        broken.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
        var brokenRes = await _s.Http.PostAsync("/v1/images/edits", broken);
        Assert.InRange((int)brokenRes.StatusCode, 400, 499);

        var huge = new ByteArrayContent(new byte[_s.Options.MaxJsonBodyBytes + 1]);
        huge.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        await AssertError(await _s.Http.PostAsync("/v1/images/generations", huge), 413, "request_too_large");

        await AssertError(await _s.Http.GetAsync("/v1/jobs/0123456789abcdef0123456789abcdef"), 404, "job_not_found");
        await AssertError(await _s.Http.GetAsync("/v1/jobs/..%2F..%2Fetc"), 404, null);
        await AssertError(await _s.Http.DeleteAsync("/v1/jobs/nope"), 404, "job_not_found");
        await AssertError(await _s.Http.GetAsync("/v1/jobs/nope/events"), 404, "job_not_found");
        await AssertError(await _s.Http.GetAsync("/v1/images/0123456789abcdef0123456789abcdef-0.png"), 404, "image_not_found");
        await AssertError(await _s.Http.GetAsync("/v1/images/passwd"), 404, "image_not_found");
        await AssertError(await _s.Http.GetAsync("/v1/jobs?limit=0"), 400, "invalid_value");
        await AssertError(await _s.Http.GetAsync("/v1/jobs?before=yesterday"), 400, "invalid_value");
        await AssertError(await _s.Http.GetAsync("/v1/nothing-here"), 404, "not_found");
        await AssertError(await _s.Http.PutAsync("/v1/jobs", new StringContent("{}")), 405, "method_not_allowed");
    }

    [Fact]
    public async Task Api_key_is_required_on_the_api_but_not_on_the_ui_or_image_urls()
    {
        await using var s = await RunningServer.Start(new ServerOptions { ApiKey = "s3cret" });
        await AssertError(await s.Http.GetAsync("/v1/jobs"), 401, "invalid_api_key");
        s.UseKey("wrong");
        await AssertError(await s.Http.PostAsJsonAsync("/v1/jobs", new { prompt = "a" }), 401, "invalid_api_key");
        s.UseKey("s3cret");
        var job = await s.PostJob(new { prompt = "a", size = "256x256" });
        var done = await s.WaitFor(job.GetProperty("id").GetString()!, "succeeded");
        s.Http.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.OK, (await s.Http.GetAsync(done.GetProperty("images")[0].GetProperty("url").GetString())).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await s.Http.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await s.Http.GetAsync("/healthz")).StatusCode);
        Assert.False((await s.Http.GetAsync("/")).Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task A_full_queue_answers_429_with_retry_after()
    {
        await using var s = await RunningServer.Start(new ServerOptions { MaxQueue = 2, Workers = 0 });
        await s.PostJob(new { prompt = "1" });
        await s.PostJob(new { prompt = "2" });
        var res = await s.Http.PostAsJsonAsync("/v1/jobs", new { prompt = "3" });
        await AssertError(res, 429, "queue_full");
        Assert.True(res.Headers.RetryAfter!.Delta!.Value.TotalSeconds >= 1);
        Assert.Contains("nextstep_queue_depth 2\n", await s.Http.GetStringAsync("/metrics"));
    }

    private static async Task<List<(string Event, JsonElement Data)>> ReadEvents(RunningServer s, string id)
    {
        using var stream = await s.Http.GetStreamAsync($"/v1/jobs/{id}/events");
        using var reader = new StreamReader(stream);
        var events = new List<(string, JsonElement)>();
        string? evt = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ")) evt = line[7..];
            else if (line.StartsWith("data: ")) events.Add((evt!, JsonDocument.Parse(line[6..]).RootElement));
        }
        return events;
    }

    private static MultipartFormDataContent EditForm(byte[]? image, params (string Name, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        if (image is not null) form.Add(new ByteArrayContent(image), "image", "input.png");
        return form;
    }

    /// <summary>Asserts the status and the OpenAI error shape; returns the inner error object.</summary>
    internal static async Task<JsonElement> AssertError(HttpResponseMessage res, int status, string? code)
    {
        var text = await res.Content.ReadAsStringAsync();
        Assert.True((int)res.StatusCode == status, $"expected {status}, got {(int)res.StatusCode}: {text}");
        Assert.Equal("application/json", res.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()));
        Assert.True(error.TryGetProperty("param", out _));
        if (code is not null) Assert.Equal(code, error.GetProperty("code").GetString());
        return error;
    }
}
