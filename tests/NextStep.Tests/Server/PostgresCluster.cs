using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace NextStep.Tests.Server;

/// <summary>
/// A throwaway PostgreSQL cluster on 127.0.0.1 built with Debian's initdb/pg_ctl in a temporary folder
/// (run as the 'postgres' user when the tests run as root, since PostgreSQL refuses to run as root).
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    public string ConnectionString { get; }
    private readonly string _dir, _bin;
    private readonly bool _asPostgresUser;

    private PostgresCluster(string dir, string bin, bool asPostgresUser, int port)
    {
        (_dir, _bin, _asPostgresUser) = (dir, bin, asPostgresUser);
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=nextstep;Database=postgres;Pooling=true;Timeout=15";
    }

    public static PostgresCluster Start()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        if (bin is null) throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run scripts/setup.sh (installs Debian's 'postgresql')");
        bool root = Environment.UserName == "root";
        var dir = TempDir.Create();
        if (root) Run("chown", ["-R", "postgres:postgres", dir]);
        var port = FreePort();
        var cluster = new PostgresCluster(dir, bin, root, port);
        cluster.Pg("initdb", "-D", Path.Combine(dir, "data"), "-U", "nextstep", "--auth=trust", "-E", "UTF8", "--no-sync");
        cluster.Pg("pg_ctl", "-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "log"), "-w", "-t", "60", "start",
            "-o", $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200");
        return cluster;
    }

    private void Pg(string tool, params string[] args)
    {
        var exe = Path.Combine(_bin, tool);
        if (_asPostgresUser) Run("runuser", ["-u", "postgres", "--", exe, .. args]);
        else Run(exe, args);
    }

    private static void Run(string exe, string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(90_000)) { p.Kill(); throw new TimeoutException($"{exe} did not finish"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} failed ({p.ExitCode}): {stdout.Result}{stderr.Result}");
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        try { Pg("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"); } catch (InvalidOperationException) { }
        TempDir.Delete(_dir);
    }
}
