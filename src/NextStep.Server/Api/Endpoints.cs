using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using NextStep.Server.Generation;
using NextStep.Server.Jobs;

namespace NextStep.Server.Api;

/// <summary>The HTTP API: OpenAI-compatible image endpoints, the async job API, images, health and metrics.</summary>
public static class Endpoints
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static void Map(IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapPost("/images/generations", (Delegate)GenerateSync).Accepts<OpenApiShapes.GenerationBody>("application/json")
            .Produces<OpenApiShapes.ImagesResponse>().Produces<OpenApiShapes.ErrorBody>(400).Produces<OpenApiShapes.ErrorBody>(429)
            .WithSummary("Generate images from a prompt (OpenAI Images compatible); waits for the result");
        v1.MapPost("/images/edits", (Delegate)EditSync).Accepts<OpenApiShapes.EditBody>("multipart/form-data")
            .Produces<OpenApiShapes.ImagesResponse>().Produces<OpenApiShapes.ErrorBody>(400).Produces<OpenApiShapes.ErrorBody>(429)
            .WithSummary("Edit an uploaded image following a prompt (OpenAI Images compatible); waits for the result");
        v1.MapPost("/jobs", (Delegate)CreateJob).Accepts<OpenApiShapes.GenerationBody>("application/json", "multipart/form-data")
            .Produces<OpenApiShapes.Job>(202).Produces<OpenApiShapes.ErrorBody>(400).Produces<OpenApiShapes.ErrorBody>(429)
            .WithSummary("Queue a generation (JSON) or an edit (multipart with 'image') and return at once");
        v1.MapGet("/jobs", (Delegate)ListJobs).Produces<OpenApiShapes.JobList>().WithSummary("Job history, newest first (limit, before)");
        v1.MapGet("/jobs/{id}", (Delegate)GetJob).Produces<OpenApiShapes.Job>().Produces<OpenApiShapes.ErrorBody>(404).WithSummary("A job's state, progress and result URLs");
        v1.MapGet("/jobs/{id}/events", (Delegate)JobEvents).Produces(200, contentType: "text/event-stream")
            .WithSummary("Server-sent events: 'progress' per image token, then 'done' with the job");
        v1.MapDelete("/jobs/{id}", (Delegate)CancelJob).Produces<OpenApiShapes.Job>().Produces<OpenApiShapes.ErrorBody>(409).WithSummary("Cancel a queued or running job");
        v1.MapGet("/images/{file}", (Delegate)GetImage).Produces(200, contentType: "image/png").WithSummary("A result image, named {jobId}-{index}.png");
        v1.MapGet("/models", (IImageGenerator g) => Results.Json(new { @object = "list", data = new[] { new { id = g.ModelName, @object = "model", owned_by = "nextstep" } } }))
            .WithSummary("The model this server runs");

        app.MapGet("/healthz", async (JobStore store) =>
        {
            await store.CountQueued();
            return Results.Json(new { status = "ok" });
        }).WithSummary("Liveness: the process answers and its database is reachable");
        app.MapGet("/metrics", (Delegate)Metrics).Produces(200, contentType: "text/plain").WithSummary("Prometheus metrics");
    }

    private static string BaseUrl(HttpRequest r) => $"{r.Scheme}://{r.Host}";

    private static async Task<IResult> GenerateSync(HttpContext ctx, JobQueue queue, JobStore store, LiveJobs live, ServerOptions o, ServerMetrics m)
    {
        var req = GenerationRequest.Parse(await ReadJson(ctx, o), o, null);
        return await RunSync(ctx, req, "generation", queue, store, live, o, m);
    }

    private static async Task<IResult> EditSync(HttpContext ctx, JobQueue queue, JobStore store, LiveJobs live, ServerOptions o, ServerMetrics m)
    {
        var (fields, image) = await ReadForm(ctx, o);
        if (image is null) throw new ApiException(400, "'image' is required for an edit", "image", "missing_required_parameter");
        var req = GenerationRequest.Parse(fields, o, image);
        return await RunSync(ctx, req, "edit", queue, store, live, o, m);
    }

    /// <summary>Queues the job like the async API, then waits for it; the job stays in history either way.</summary>
    private static async Task<IResult> RunSync(HttpContext ctx, GenerationRequest req, string kind, JobQueue queue, JobStore store, LiveJobs live, ServerOptions o, ServerMetrics m)
    {
        var id = await Accept(ctx, req, kind, queue, store, o, m);
        ctx.Response.Headers["X-Job-Id"] = id;
        JobRecord job;
        while (!JobStates.IsTerminal((job = (await store.Get(id))!).State))
            await live.WaitForChange(id, PollInterval, ctx.RequestAborted);
        if (job.State == JobStates.Failed)
            throw new ApiException(500, job.Error ?? "generation failed", code: "generation_failed", type: "server_error");
        if (job.State == JobStates.Cancelled)
            throw new ApiException(409, $"job {id} was cancelled", code: "job_cancelled");

        var data = new List<object>();
        for (int i = 0; i < job.ImageCount; i++)
            data.Add(req.ResponseFormat == "b64_json"
                ? new { b64_json = Convert.ToBase64String((await store.GetImage(id, i))!), revised_prompt = (string?)null }
                : new { url = $"{BaseUrl(ctx.Request)}/v1/images/{JobView.ImageFile(id, i)}", revised_prompt = (string?)null });
        return Results.Json(new { created = job.CreatedAt / 1000, data });
    }

    private static async Task<IResult> CreateJob(HttpContext ctx, JobQueue queue, JobStore store, ServerOptions o, ServerMetrics m)
    {
        GenerationRequest req;
        if (ctx.Request.HasFormContentType)
        {
            var (fields, image) = await ReadForm(ctx, o);
            req = GenerationRequest.Parse(fields, o, image);
        }
        else req = GenerationRequest.Parse(await ReadJson(ctx, o), o, null);
        var id = await Accept(ctx, req, req.Spec.InputImage is null ? "generation" : "edit", queue, store, o, m);
        var job = await store.Get(id);
        return Results.Json(JobView.Of(job!, BaseUrl(ctx.Request)), statusCode: 202);
    }

    private static async Task<string> Accept(HttpContext ctx, GenerationRequest req, string kind, JobQueue queue, JobStore store, ServerOptions o, ServerMetrics m)
    {
        if (await store.CountQueued() >= o.MaxQueue)
        {
            var perJob = m.JobsDone > 0 ? m.GenerationSeconds / m.JobsDone : 10;
            ctx.Response.Headers.RetryAfter = Math.Clamp((int)Math.Ceiling(perJob), 1, 300).ToString(CultureInfo.InvariantCulture);
            throw new ApiException(429, $"the queue is full ({o.MaxQueue} jobs waiting); retry later", code: "queue_full", type: "rate_limit_error");
        }
        var id = JobView.NewId();
        await queue.Enqueue(id, kind, req.Spec);
        return id;
    }

    private static async Task<IResult> ListJobs(HttpContext ctx, JobStore store)
    {
        var q = ctx.Request.Query;
        int limit = 50;
        if (q.ContainsKey("limit") && (!int.TryParse(q["limit"], out limit) || limit is < 1 or > 200))
            throw ApiException.Invalid("limit", "'limit' must be an integer between 1 and 200");
        long? before = null;
        if (q.ContainsKey("before"))
            before = long.TryParse(q["before"], out var b) ? b : throw ApiException.Invalid("before", "'before' must be a creation time in milliseconds");
        var jobs = await store.List(limit, before);
        return Results.Json(new { @object = "list", data = jobs.Select(j => JobView.Of(j, BaseUrl(ctx.Request))), next_before = jobs.Count == limit ? jobs[^1].CreatedAt : (long?)null });
    }

    private static async Task<JobRecord> Find(JobStore store, string id) =>
        (JobView.IsJobId(id) ? await store.Get(id) : null) ?? throw new ApiException(404, $"no job with id '{id}'", "id", "job_not_found");

    private static async Task<IResult> GetJob(HttpContext ctx, string id, JobStore store) => Results.Json(JobView.Of(await Find(store, id), BaseUrl(ctx.Request)));

    private static async Task<IResult> CancelJob(HttpContext ctx, string id, JobStore store, JobQueue queue)
    {
        var job = await Find(store, id);
        if (!await queue.Cancel(id))
            throw new ApiException(409, $"job '{id}' has already {job.State}; only queued or running jobs can be cancelled", "id", "job_not_cancellable");
        return Results.Json(JobView.Of((await store.Get(id))!, BaseUrl(ctx.Request)));
    }

    /// <summary>Streams progress: per token while the job runs in this process, a few times a second from the database otherwise.</summary>
    private static async Task JobEvents(HttpContext ctx, string id, JobStore store, LiveJobs live)
    {
        var job = await Find(store, id);
        var ct = ctx.RequestAborted;
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";
        (string, int, int)? sent = null;
        try
        {
            while (true)
            {
                (int Done, int Total) p = live.Progress(id) is { Total: > 0 } lp ? lp : (job.ProgressDone, job.ProgressTotal);
                var now = (job.State, p.Done, p.Total);
                if (JobStates.IsTerminal(job.State))
                {
                    await Send(ctx, "done", JobView.Of(job, BaseUrl(ctx.Request)), ct);
                    return;
                }
                if (now != sent)
                {
                    await Send(ctx, "progress", new { state = job.State, done = p.Done, total = p.Total }, ct);
                    sent = now;
                }
                await live.WaitForChange(id, PollInterval, ct);
                if (live.Progress(id) is null || sent?.Item1 != JobStates.Running) job = (await store.Get(id))!;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    private static async Task Send(HttpContext ctx, string evt, object data, CancellationToken ct)
    {
        await ctx.Response.WriteAsync($"event: {evt}\ndata: {JsonSerializer.Serialize(data)}\n\n", ct);
        await ctx.Response.Body.FlushAsync(ct);
    }

    private static async Task<IResult> GetImage(string file, JobStore store)
    {
        var png = JobView.ParseImageFile(file) is { } f ? await store.GetImage(f.JobId, f.Index) : null;
        return png is null ? throw new ApiException(404, $"no image '{file}'", "file", "image_not_found") : Results.File(png, "image/png", file);
    }

    private static async Task Metrics(HttpContext ctx, JobStore store, ServerMetrics m)
    {
        var counts = await store.CountByState();
        var sb = new StringBuilder();
        void Metric(string name, string type, string help, double value)
        {
            sb.Append($"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value.ToString(CultureInfo.InvariantCulture)}\n");
        }
        Metric("nextstep_queue_depth", "gauge", "Jobs accepted and waiting for a worker.", counts[JobStates.Queued]);
        Metric("nextstep_jobs_running", "gauge", "Jobs being generated now, on any node.", counts[JobStates.Running]);
        Metric("nextstep_jobs_done_total", "counter", "Jobs finished successfully, on any node.", counts[JobStates.Succeeded]);
        Metric("nextstep_jobs_failed_total", "counter", "Jobs that failed, on any node.", counts[JobStates.Failed]);
        Metric("nextstep_jobs_cancelled_total", "counter", "Jobs cancelled by a client.", counts[JobStates.Cancelled]);
        Metric("nextstep_node_tokens_total", "counter", "Image tokens generated by this process.", m.Tokens);
        Metric("nextstep_node_generation_seconds_total", "counter", "Time this process spent generating.", m.GenerationSeconds);
        Metric("nextstep_tokens_per_second", "gauge", "Image tokens per second of the last job this process finished.", m.LastTokensPerSecond);
        ctx.Response.ContentType = "text/plain; version=0.0.4";
        await ctx.Response.WriteAsync(sb.ToString());
    }

    private static async Task<RequestFields> ReadJson(HttpContext ctx, ServerOptions o)
    {
        if (!ctx.Request.HasJsonContentType())
            throw new ApiException(415, "send the request as application/json", code: "unsupported_media_type");
        LimitBody(ctx, o.MaxJsonBodyBytes);
        return await RequestFields.FromJson(ctx.Request);
    }

    private static async Task<(RequestFields, byte[]?)> ReadForm(HttpContext ctx, ServerOptions o)
    {
        if (!ctx.Request.HasFormContentType)
            throw new ApiException(415, "send the request as multipart/form-data", code: "unsupported_media_type");
        LimitBody(ctx, o.MaxUploadBytes);
        IFormCollection form;
        try
        {
            form = await ctx.Request.ReadFormAsync(new FormOptions { MultipartBodyLengthLimit = o.MaxUploadBytes, ValueCountLimit = 64 }, ctx.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or IOException && !ctx.RequestAborted.IsCancellationRequested)
        {
            throw new ApiException(400, $"malformed multipart form: {e.Message}", code: "invalid_form");
        }
        if (form.Files.GetFile("mask") is not null) throw ApiException.Invalid("mask", "masks are not supported; NextStep edits the whole image from the instruction");
        byte[]? image = null;
        if (form.Files.GetFile("image") is { } file)
        {
            using var ms = new MemoryStream();
            await file.CopyToAsync(ms, ctx.RequestAborted);
            image = ms.ToArray();
            GenerationRequest.CheckImage(image, o.MaxInputImageSide);
        }
        return (RequestFields.FromForm(form), image);
    }

    private static void LimitBody(HttpContext ctx, long max)
    {
        if (ctx.Request.ContentLength > max)
            throw new ApiException(413, $"request body is {ctx.Request.ContentLength} bytes; the limit is {max}", code: "request_too_large");
        if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } f) f.MaxRequestBodySize = max;
    }
}
