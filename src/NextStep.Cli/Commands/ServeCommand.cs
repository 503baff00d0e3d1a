using System.CommandLine;
using NextStep.Server;

namespace NextStep.Cli.Commands;

public static class ServeCommand
{
    public static readonly Option<string?> Model = new("--model") { Description = "NextStep-1 checkpoint folder" };
    public static readonly Option<string?> Sampler = new("--sampler") { Description = "hf, github2025 or v1.1 (default: from the checkpoint)" };
    public static readonly Option<string?> Postgres = new("--postgres") { Description = "PostgreSQL URL (postgres://user:pass@host:port/db) shared with 'nextstep worker' nodes" };
    public static readonly Option<int> Workers = new("--workers") { Description = "Jobs this process generates at once (0: API only)", DefaultValueFactory = _ => 1 };
    public static readonly Option<bool> Fake = new("--fake") { Description = "Use the built-in fake generator (gradients) instead of a model" };
    public static readonly Option<int> FakeMs = new("--fake-ms") { Description = "Milliseconds the fake generator takes per picture", DefaultValueFactory = _ => 2000 };

    public static Command Create()
    {
        var host = new Option<string>("--host") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on", DefaultValueFactory = _ => 8080 };
        var db = new Option<string>("--db") { Description = "SQLite file for jobs and results (single node)", DefaultValueFactory = _ => "nextstep-jobs.db" };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on the API" };
        var maxQueue = new Option<int>("--max-queue") { Description = "Queued jobs accepted before answering 429", DefaultValueFactory = _ => 32 };
        var cors = new Option<string[]>("--cors-origin") { Description = "Allow cross-origin calls from this origin (repeatable; off by default)", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("serve", "Serve the OpenAI-compatible image API and the web UI") { Model, Sampler, host, port, db, Postgres, apiKey, Workers, Fake, FakeMs, maxQueue, cors };
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(port) is var p and (< 0 or > 65535)) throw new NextStepException($"--port {p}: expected 0..65535");
            if (parse.GetValue(maxQueue) is var q and < 1) throw new NextStepException($"--max-queue {q}: expected 1 or more");
            var o = new ServerOptions
            {
                Host = parse.GetValue(host)!, Port = parse.GetValue(port), DbPath = parse.GetValue(db)!, Postgres = parse.GetValue(Postgres),
                ApiKey = parse.GetValue(apiKey), Workers = parse.GetValue(Workers), ModelDir = parse.GetValue(Model), Sampler = SamplerOf(parse), Fake = parse.GetValue(Fake),
                FakeDuration = TimeSpan.FromMilliseconds(parse.GetValue(FakeMs)), MaxQueue = parse.GetValue(maxQueue), CorsOrigins = parse.GetValue(cors) ?? [],
            };
            var app = NextStepServer.BuildServer(o);
            app.Lifetime.ApplicationStarted.Register(() => Console.Error.WriteLine($"nextstep: serving on {string.Join(", ", app.Urls)} (store: {(o.Postgres is null ? o.DbPath : "postgresql")}, workers: {o.Workers})"));
            app.Run();
            return 0;
        });
        return cmd;
    }

    public static NextStep.Pipeline.PipelineVariant? SamplerOf(ParseResult parse) =>
        parse.GetValue(Sampler) is { } s ? NextStep.Pipeline.GenerationRequest.ParseVariant(s) : null;
}
