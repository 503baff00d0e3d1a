using System.Data.Common;
using System.Text.Json;
using NextStep.Server.Generation;

namespace NextStep.Server.Jobs;

public static class JobStates
{
    public const string Queued = "queued", Running = "running", Succeeded = "succeeded", Failed = "failed", Cancelled = "cancelled";
    public static bool IsTerminal(string s) => s is Succeeded or Failed or Cancelled;
}

/// <summary>One accepted request as the database keeps it.</summary>
public sealed record JobRecord(
    string Id, long CreatedAt, string Kind, GenerationJobSpec Spec, string State, int ProgressDone, int ProgressTotal,
    int Attempts, string? Worker, string? Error, long? StartedAt, long? FinishedAt, int ImageCount, int ResultWrites);

/// <summary>
/// Durable job records and result images (tables <c>ns_jobs</c>, <c>ns_images</c>). Every state change is one guarded
/// UPDATE, so a job that is re-run after a crash writes its result exactly once.
/// </summary>
public sealed class JobStore(Database db)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private const string Columns = "id, created_at, kind, spec, state, progress_done, progress_total, attempts, worker, error, started_at, finished_at, image_count, result_writes";

    public void EnsureSchema()
    {
        using var c = db.Open();
        if (!db.IsPostgres) Exec(c, "PRAGMA journal_mode=WAL");
        Exec(c, $"""
            CREATE TABLE IF NOT EXISTS ns_jobs (
              id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, kind TEXT NOT NULL, spec TEXT NOT NULL, input_image {db.BlobType},
              state TEXT NOT NULL, progress_done INTEGER NOT NULL DEFAULT 0, progress_total INTEGER NOT NULL DEFAULT 0,
              attempts INTEGER NOT NULL DEFAULT 0, worker TEXT, error TEXT, started_at BIGINT, finished_at BIGINT,
              image_count INTEGER NOT NULL DEFAULT 0, result_writes INTEGER NOT NULL DEFAULT 0)
            """);
        Exec(c, "CREATE INDEX IF NOT EXISTS ns_jobs_state ON ns_jobs (state, created_at)");
        Exec(c, $"""
            CREATE TABLE IF NOT EXISTS ns_images (
              job_id TEXT NOT NULL, idx INTEGER NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, png {db.BlobType} NOT NULL,
              PRIMARY KEY (job_id, idx))
            """);
    }

    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public async Task Insert(string id, string kind, GenerationJobSpec spec)
    {
        await using var c = await db.OpenAsync();
        await Exec(c, "INSERT INTO ns_jobs (id, created_at, kind, spec, input_image, state, progress_total) VALUES (@id, @t, @kind, @spec, @img, @s, @total)",
            ("@id", id), ("@t", Now()), ("@kind", kind), ("@spec", JsonSerializer.Serialize(spec, Json)), ("@img", spec.InputImage),
            ("@s", JobStates.Queued), ("@total", spec.TokensPerImage * spec.N));
    }

    public async Task<JobRecord?> Get(string id) => (await Query($"SELECT {Columns} FROM ns_jobs WHERE id = @id", ("@id", id))).FirstOrDefault();

    /// <summary>Newest first; <paramref name="before"/> (created_at, ms) pages back.</summary>
    public Task<List<JobRecord>> List(int limit, long? before) =>
        Query($"SELECT {Columns} FROM ns_jobs WHERE created_at < @before ORDER BY created_at DESC, id DESC LIMIT {limit}", ("@before", before ?? long.MaxValue));

    public Task<List<JobRecord>> Unfinished() =>
        Query($"SELECT {Columns} FROM ns_jobs WHERE state IN ('{JobStates.Queued}', '{JobStates.Running}') ORDER BY created_at");

    /// <summary>The spec with its input image, for a worker about to run the job.</summary>
    public async Task<GenerationJobSpec?> LoadSpec(string id)
    {
        await using var c = await db.OpenAsync();
        await using var cmd = Command(c, "SELECT spec, input_image FROM ns_jobs WHERE id = @id", ("@id", id));
        await using var r = await cmd.ExecuteReaderAsync();
        if (!await r.ReadAsync()) return null;
        var spec = JsonSerializer.Deserialize<GenerationJobSpec>(r.GetString(0), Json)!;
        return r.IsDBNull(1) ? spec : spec with { InputImage = (byte[])r.GetValue(1) };
    }

    /// <summary>queued (or running again after a crash) → running; false when the job is finished or cancelled.</summary>
    public async Task<bool> MarkRunning(string id, string worker)
    {
        await using var c = await db.OpenAsync();
        return await Exec(c, $"UPDATE ns_jobs SET state = '{JobStates.Running}', attempts = attempts + 1, worker = @w, started_at = @t, progress_done = 0 WHERE id = @id AND state IN ('{JobStates.Queued}', '{JobStates.Running}')",
            ("@id", id), ("@w", worker), ("@t", Now())) == 1;
    }

    /// <summary>Stores progress; false when the job is no longer running (cancelled meanwhile).</summary>
    public async Task<bool> ReportProgress(string id, int done, int total)
    {
        await using var c = await db.OpenAsync();
        return await Exec(c, $"UPDATE ns_jobs SET progress_done = @d, progress_total = @n WHERE id = @id AND state = '{JobStates.Running}'",
            ("@id", id), ("@d", done), ("@n", total)) == 1;
    }

    /// <summary>Writes the result once: the state flip and the images commit together, and only from running.</summary>
    public async Task<bool> Complete(string id, IReadOnlyList<GeneratedImage> images)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var flipped = await Exec(c, $"UPDATE ns_jobs SET state = '{JobStates.Succeeded}', finished_at = @t, image_count = @n, progress_done = progress_total, result_writes = result_writes + 1, error = NULL WHERE id = @id AND state = '{JobStates.Running}'",
            tx, ("@id", id), ("@t", Now()), ("@n", images.Count)) == 1;
        if (!flipped) return false;
        for (int i = 0; i < images.Count; i++)
            await Exec(c, "INSERT INTO ns_images (job_id, idx, width, height, png) VALUES (@id, @i, @w, @h, @png)", tx,
                ("@id", id), ("@i", i), ("@w", images[i].Width), ("@h", images[i].Height), ("@png", images[i].Png));
        await tx.CommitAsync();
        return true;
    }

    public async Task Fail(string id, string message)
    {
        await using var c = await db.OpenAsync();
        await Exec(c, $"UPDATE ns_jobs SET state = '{JobStates.Failed}', finished_at = @t, error = @e WHERE id = @id AND state = '{JobStates.Running}'",
            ("@id", id), ("@t", Now()), ("@e", message));
    }

    /// <summary>queued/running → cancelled; false when the job had already finished.</summary>
    public async Task<bool> Cancel(string id)
    {
        await using var c = await db.OpenAsync();
        return await Exec(c, $"UPDATE ns_jobs SET state = '{JobStates.Cancelled}', finished_at = @t WHERE id = @id AND state IN ('{JobStates.Queued}', '{JobStates.Running}')",
            ("@id", id), ("@t", Now())) == 1;
    }

    public async Task<byte[]?> GetImage(string id, int index)
    {
        await using var c = await db.OpenAsync();
        await using var cmd = Command(c, "SELECT png FROM ns_images WHERE job_id = @id AND idx = @i", ("@id", id), ("@i", index));
        return await cmd.ExecuteScalarAsync() as byte[];
    }

    public async Task<Dictionary<string, long>> CountByState()
    {
        await using var c = await db.OpenAsync();
        await using var cmd = Command(c, "SELECT state, COUNT(*) FROM ns_jobs GROUP BY state");
        await using var r = await cmd.ExecuteReaderAsync();
        var counts = new Dictionary<string, long> { [JobStates.Queued] = 0, [JobStates.Running] = 0, [JobStates.Succeeded] = 0, [JobStates.Failed] = 0, [JobStates.Cancelled] = 0 };
        while (await r.ReadAsync()) counts[r.GetString(0)] = r.GetInt64(1);
        return counts;
    }

    public async Task<long> CountQueued()
    {
        await using var c = await db.OpenAsync();
        await using var cmd = Command(c, $"SELECT COUNT(*) FROM ns_jobs WHERE state = '{JobStates.Queued}'");
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    private async Task<List<JobRecord>> Query(string sql, params (string, object?)[] ps)
    {
        await using var c = await db.OpenAsync();
        await using var cmd = Command(c, sql, ps);
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<JobRecord>();
        while (await r.ReadAsync())
            list.Add(new JobRecord(r.GetString(0), r.GetInt64(1), r.GetString(2), JsonSerializer.Deserialize<GenerationJobSpec>(r.GetString(3), Json)!,
                r.GetString(4), r.GetInt32(5), r.GetInt32(6), r.GetInt32(7), r.IsDBNull(8) ? null : r.GetString(8), r.IsDBNull(9) ? null : r.GetString(9),
                r.IsDBNull(10) ? null : r.GetInt64(10), r.IsDBNull(11) ? null : r.GetInt64(11), r.GetInt32(12), r.GetInt32(13)));
        return list;
    }

    private static DbCommand Command(DbConnection c, string sql, params (string Name, object? Value)[] ps) => Command(c, sql, null, ps);

    private static DbCommand Command(DbConnection c, string sql, DbTransaction? tx, params (string Name, object? Value)[] ps)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in ps)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    private static void Exec(DbConnection c, string sql)
    {
        using var cmd = Command(c, sql);
        cmd.ExecuteNonQuery();
    }

    private static Task<int> Exec(DbConnection c, string sql, params (string, object?)[] ps) => Exec(c, sql, null, ps);

    private static async Task<int> Exec(DbConnection c, string sql, DbTransaction? tx, params (string, object?)[] ps)
    {
        await using var cmd = Command(c, sql, tx, ps);
        return await cmd.ExecuteNonQueryAsync();
    }
}
