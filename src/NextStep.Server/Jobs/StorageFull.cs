using Microsoft.Data.Sqlite;
using Npgsql;

namespace NextStep.Server.Jobs;

/// <summary>Recognises "the job database or its disk is full" anywhere in an exception chain (SQLite or PostgreSQL).</summary>
public static class StorageFull
{
    public const string Message = "the job database or its disk is full";

    public static bool Is(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is SqliteException { SqliteErrorCode: 13 } or PostgresException { SqlState: "53100" }) return true; // SQLITE_FULL, disk_full
        return false;
    }
}
