namespace NextStep.Server;

/// <summary>Settings of <c>nextstep serve</c> and <c>nextstep worker</c>, with the request limits.</summary>
public sealed record ServerOptions
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 8080;
    /// <summary>SQLite file (single node). Ignored when <see cref="Postgres"/> is set.</summary>
    public string DbPath { get; init; } = "nextstep-jobs.db";
    /// <summary>PostgreSQL URL or connection string: the shared store of a multi-node deployment.</summary>
    public string? Postgres { get; init; }
    public string? ApiKey { get; init; }
    /// <summary>Jobs this node runs at once; 0 makes an API-only node.</summary>
    public int Workers { get; init; } = 1;
    public string? ModelDir { get; init; }
    /// <summary>Sampler variant for every job; null uses the checkpoint's default.</summary>
    public NextStep.Pipeline.PipelineVariant? Sampler { get; init; }
    public bool Fake { get; init; }
    /// <summary>How long the fake generator takes per picture.</summary>
    public TimeSpan FakeDuration { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Origins allowed by CORS; empty (the default) sends no CORS headers.</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];
    /// <summary>How often a clustered node checks in; a node silent for about twice this long has its jobs recovered by the others.</summary>
    public TimeSpan ClusterCheckin { get; init; } = TimeSpan.FromSeconds(2);

    public int MaxQueue { get; init; } = 32;
    public int MaxPromptLength { get; init; } = 2000;
    public int MaxN { get; init; } = 4;
    public int MaxSteps { get; init; } = 100;
    public long MaxJsonBodyBytes { get; init; } = 64 * 1024;
    public long MaxUploadBytes { get; init; } = 16 * 1024 * 1024;
    public int MaxInputImageSide { get; init; } = 4096;
    public bool Quiet { get; init; }

    public Jobs.Database OpenDatabase() => Postgres is { } pg ? Jobs.Database.Postgres(pg) : Jobs.Database.Sqlite(DbPath);
}
