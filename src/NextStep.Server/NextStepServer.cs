using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NextStep.Server.Api;
using NextStep.Server.Generation;
using NextStep.Server.Jobs;
using Quartz;

namespace NextStep.Server;

/// <summary>Builds the two kinds of node: the HTTP server (API, web UI, optional workers) and a headless worker.</summary>
public static class NextStepServer
{
    /// <summary>The HTTP server; <paramref name="generator"/> replaces the one chosen from the options (tests pass a fake).</summary>
    public static WebApplication BuildServer(ServerOptions o, IImageGenerator? generator = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = o.MaxUploadBytes;
            k.AddServerHeader = false;
        });
        builder.WebHost.UseUrls($"http://{(o.Host.Contains(':') ? $"[{o.Host}]" : o.Host)}:{o.Port}");
        AddJobs(builder.Services, builder.Logging, o, generator);
        builder.Services.AddOpenApi(d => d.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "NextStep.NET image API";
            doc.Info.Description = "OpenAI Images compatible generation and editing, plus an async job API.";
            return Task.CompletedTask;
        }));
        if (o.CorsOrigins.Count > 0) builder.Services.AddCors(c => c.AddDefaultPolicy(p => p.WithOrigins([.. o.CorsOrigins]).AllowAnyHeader().AllowAnyMethod()));

        var app = builder.Build();
        app.Use(HandleErrors);
        app.UseStatusCodePages(ctx => ctx.HttpContext.Response.HasStarted ? Task.CompletedTask : WriteStatus(ctx.HttpContext));
        if (o.CorsOrigins.Count > 0) app.UseCors();
        if (o.ApiKey is { Length: > 0 } key) app.Use(RequireApiKey(key));
        var ui = new EmbeddedFileProvider(typeof(NextStepServer).Assembly, "NextStep.Server.wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = ui });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = ui });
        app.MapOpenApi("/openapi.json");
        Endpoints.Map(app);
        return app;
    }

    /// <summary>A worker node: runs queued jobs from the shared PostgreSQL store, serves no HTTP.</summary>
    public static IHost BuildWorker(ServerOptions o, IImageGenerator? generator = null)
    {
        if (o.Postgres is null) throw new NextStepException("a worker needs --postgres URL: it takes jobs from the database the server writes to");
        if (o.Workers < 1) throw new NextStepException($"--workers {o.Workers}: a worker node needs at least 1");
        var builder = Host.CreateApplicationBuilder();
        AddJobs(builder.Services, builder.Logging, o, generator);
        return builder.Build();
    }

    private static void AddJobs(IServiceCollection services, ILoggingBuilder logging, ServerOptions o, IImageGenerator? generator)
    {
        if (o.Workers < 0) throw new NextStepException($"--workers {o.Workers}: expected 0 or more");
        // a failed start is reported once by the CLI, without the host's stack trace
        logging.AddFilter("Microsoft", LogLevel.Warning).AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None).AddFilter("Quartz", LogLevel.Warning);
        if (o.Quiet) logging.SetMinimumLevel(LogLevel.Warning);
        var db = o.OpenDatabase();
        services.AddSingleton(o);
        services.AddSingleton(db);
        services.AddSingleton<JobStore>();
        services.AddSingleton<LiveJobs>();
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton(generator ?? (o.Fake ? new FakeImageGenerator(o.FakeDuration) : new PipelineImageGenerator(
            o.ModelDir ?? throw new NextStepException("--model DIR is required (or --fake for the test generator)"), o.Sampler)));
        services.AddQuartz(db.QuartzProperties(o.Workers, o.ClusterCheckin), _ => { });
        services.AddSingleton<JobQueue>();
        services.AddHostedService(sp => sp.GetRequiredService<JobQueue>());
    }

    private static Func<HttpContext, RequestDelegate, Task> RequireApiKey(string key)
    {
        var expected = Encoding.UTF8.GetBytes($"Bearer {key}");
        return (ctx, next) =>
        {
            var path = ctx.Request.Path;
            bool open = !path.StartsWithSegments("/v1") || (HttpMethods.IsGet(ctx.Request.Method) && path.StartsWithSegments("/v1/images"));
            var given = Encoding.UTF8.GetBytes(ctx.Request.Headers.Authorization.ToString());
            if (open || CryptographicOperations.FixedTimeEquals(given, expected)) return next(ctx);
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            return ApiError.Write(ctx, 401, "missing or invalid API key: send 'Authorization: Bearer <key>'", code: "invalid_api_key");
        };
    }

    /// <summary>Refused requests become OpenAI-shaped 4xx answers; anything else is logged and answered with a 500.</summary>
    private static async Task HandleErrors(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            await next(ctx);
        }
        catch (ApiException e) when (!ctx.Response.HasStarted)
        {
            await ApiError.Write(ctx, e);
        }
        catch (BadHttpRequestException e) when (!ctx.Response.HasStarted)
        {
            await ApiError.Write(ctx, e.StatusCode, e.Message, code: ApiError.ForStatus(e.StatusCode).Code);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { }
        catch (Exception e) when (!ctx.Response.HasStarted && StorageFull.Is(e))
        {
            ctx.RequestServices.GetRequiredService<ILogger<ServerOptions>>().LogError(e, "{Method} {Path}: {Reason}", ctx.Request.Method, ctx.Request.Path, StorageFull.Message);
            await ApiError.Write(ctx, 507, $"{StorageFull.Message}; retry later", code: "storage_full", type: "server_error");
        }
        catch (Exception e) when (!ctx.Response.HasStarted)
        {
            ctx.RequestServices.GetRequiredService<ILogger<ServerOptions>>().LogError(e, "{Method} {Path} failed", ctx.Request.Method, ctx.Request.Path);
            await ApiError.Write(ctx, 500, "internal server error", code: "internal_error", type: "server_error");
        }
    }

    private static Task WriteStatus(HttpContext ctx)
    {
        var status = ctx.Response.StatusCode;
        var (message, code) = ApiError.ForStatus(status);
        return ApiError.Write(ctx, status, message, code: code, type: status >= 500 ? "server_error" : "invalid_request_error");
    }
}
