using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace NextStep.Server.Jobs;

/// <summary>
/// Where jobs live: an embedded SQLite file (one process) or a PostgreSQL database shared by every node.
/// The job records and the Quartz.NET job store share this database.
/// </summary>
public sealed class Database
{
    public bool IsPostgres { get; }
    public string ConnectionString { get; }

    private Database(bool isPostgres, string connectionString) => (IsPostgres, ConnectionString) = (isPostgres, connectionString);

    public static Database Sqlite(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new NextStepException($"--db '{path}': folder '{dir}' does not exist");
        return new Database(false, new SqliteConnectionStringBuilder { DataSource = full, DefaultTimeout = 30, Pooling = true }.ToString());
    }

    /// <summary>Accepts a URL (<c>postgres://user:pass@host:port/db</c>) or an Npgsql connection string (<c>Host=..;Database=..</c>).</summary>
    public static Database Postgres(string urlOrConnectionString)
    {
        try
        {
            return new Database(true, ToNpgsql(urlOrConnectionString));
        }
        catch (Exception e) when (e is ArgumentException or UriFormatException or FormatException)
        {
            throw new NextStepException($"--postgres '{Redact(urlOrConnectionString)}': not a PostgreSQL URL (postgres://user:pass@host:port/db) or connection string ({e.Message})");
        }
    }

    private static string ToNpgsql(string s)
    {
        if (!s.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) && !s.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
            return new NpgsqlConnectionStringBuilder(s).ToString();
        var uri = new Uri(s);
        var userInfo = uri.UserInfo.Split(':', 2);
        var b = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (userInfo[0].Length > 0) b.Username = Uri.UnescapeDataString(userInfo[0]);
        if (userInfo.Length > 1) b.Password = Uri.UnescapeDataString(userInfo[1]);
        return b.ToString();
    }

    private static string Redact(string s) => System.Text.RegularExpressions.Regex.Replace(s, @"(://[^:/@]*:)[^@]*@|(?i)(password=)[^;]*", m => m.Groups[1].Success ? m.Groups[1].Value + "***@" : m.Groups[2].Value + "***");

    public DbConnection Open()
    {
        DbConnection c = IsPostgres ? new NpgsqlConnection(ConnectionString) : new SqliteConnection(ConnectionString);
        c.Open();
        return c;
    }

    public async Task<DbConnection> OpenAsync(CancellationToken ct = default)
    {
        DbConnection c = IsPostgres ? new NpgsqlConnection(ConnectionString) : new SqliteConnection(ConnectionString);
        await c.OpenAsync(ct);
        return c;
    }

    public string BlobType => IsPostgres ? "BYTEA" : "BLOB";

    /// <summary>Quartz.NET ADO job store settings for this database; clustered on PostgreSQL so nodes share and recover work.</summary>
    public IEnumerable<KeyValuePair<string, string?>> QuartzProperties(int maxConcurrency, TimeSpan clusterCheckin)
    {
        yield return new("quartz.scheduler.instanceName", "nextstep");
        yield return new("quartz.scheduler.instanceId", "AUTO");
        yield return new("quartz.scheduler.interruptJobsOnShutdown", "true");
        yield return new("quartz.threadPool.maxConcurrency", Math.Max(1, maxConcurrency).ToString());
        yield return new("quartz.jobStore.type", "Quartz.Impl.AdoJobStore.JobStoreTX, Quartz");
        yield return new("quartz.jobStore.driverDelegateType", IsPostgres ? "Quartz.Impl.AdoJobStore.PostgreSQLDelegate, Quartz" : "Quartz.Impl.AdoJobStore.SQLiteDelegate, Quartz");
        yield return new("quartz.jobStore.dataSource", "main");
        yield return new("quartz.jobStore.useProperties", "true");
        yield return new("quartz.jobStore.schemaProvisioning", "CreateIfMissing");
        yield return new("quartz.jobStore.recoverFiringsCancelledByShutdown", "true");
        yield return new("quartz.dataSource.main.connectionString", ConnectionString);
        yield return new("quartz.dataSource.main.provider", IsPostgres ? "Npgsql" : "SQLite-Microsoft");
        yield return new("quartz.serializer.type", "stj");
        if (IsPostgres)
        {
            yield return new("quartz.jobStore.clustered", "true");
            yield return new("quartz.jobStore.clusterCheckinInterval", ((int)clusterCheckin.TotalMilliseconds).ToString());
            yield return new("quartz.jobStore.clusterCheckinMisfireThreshold", ((int)clusterCheckin.TotalMilliseconds).ToString());
        }
    }
}
