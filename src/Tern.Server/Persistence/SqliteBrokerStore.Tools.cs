using System.Globalization;
using Microsoft.Data.Sqlite;
using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Server.Persistence;

/// <summary>What <c>tern data</c> does with a store while no broker has it: open it, count, check, replace.</summary>
public sealed partial class SqliteBrokerStore : IStoreTools
{
    private const int Examples = 3;

    private static readonly string[] Tables = ["meta", "messages", "sessions", "subscriptions", "deliveries", "incoming_qos2", "retained", "bans"];

    /// <summary>
    /// Opens the store for a tool (<c>tern data</c>). With <paramref name="create"/> it is created if
    /// missing, as <see cref="Open(string, bool)"/> does; without, it must exist and be a Tern store, and
    /// opening it changes nothing. Either way the tool holds it exclusively until disposed, and a store a
    /// running broker holds is reported as such. Commits are synced (strict mode).
    /// </summary>
    /// <exception cref="StoreException">It does not exist (without <paramref name="create"/>), is not a Tern store, is corrupt, or a broker has it open.</exception>
    public static SqliteBrokerStore OpenForTool(string path, bool create) => Open(path, strict: true, create, tool: true);

    /// <summary>Rows of each kind and the payload bytes.</summary>
    /// <exception cref="StoreException">The store cannot be read.</exception>
    public StoreCounts Count()
    {
        try
        {
            return CountCore();
        }
        catch (SqliteException ex)
        {
            throw Explain(Location, ex, tool: true);
        }
    }

    /// <summary>
    /// Replaces everything the store holds by <paramref name="state"/>, in one transaction: when this
    /// throws, the store is as it was. Ids, sequences and times are kept as they are in <paramref name="state"/>.
    /// </summary>
    /// <exception cref="StoreException">The store cannot be written (disk full, read-only).</exception>
    public void Replace(StoredState state)
    {
        var batch = StoreStateCheck.ToBatch(state);
        try
        {
            using var transaction = _connection.BeginTransaction();
            foreach (var table in Tables.AsSpan(1))
            {
                Execute($"DELETE FROM {table}", transaction);
            }

            Apply(batch, transaction);
            transaction.Commit();
        }
        catch (SqliteException ex)
        {
            throw Explain(Location, ex, tool: true);
        }
    }

    /// <summary>
    /// Checks the store: SQLite's own <c>integrity_check</c> (pages, indexes), then that every reference
    /// holds (deliveries and retained entries to messages; subscriptions, deliveries and incoming ids to
    /// sessions; every message held by something) and that every row can be read back as the broker will.
    /// </summary>
    /// <exception cref="StoreException">The store cannot be read at all (not corruption: that is a problem in the report).</exception>
    public StoreCheckReport Check()
    {
        var problems = new List<string>();
        StoreCounts? counts = null;
        try
        {
            // Rows of "ok", or of findings (one row may hold several lines, after a "*** in database main ***" heading).
            Each("PRAGMA integrity_check(20)", reader =>
            {
                foreach (var line in reader.GetString(0).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (line != "ok" && !line.StartsWith("***", StringComparison.Ordinal))
                    {
                        problems.Add($"integrity: {line}");
                    }
                }
            });
            counts = CountCore();
            if (problems.Count == 0)
            {
                CheckReferences(problems);
                CheckValues(problems);
            }
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is 11 or 26)
        {
            problems.Add($"the database is corrupt ({Reason(ex)})");
        }
        catch (SqliteException ex)
        {
            throw Explain(Location, ex, tool: true);
        }

        return new StoreCheckReport(counts, SizeBytes, problems);
    }

    /// <summary>Takes the store for a tool: the lock (a read takes it and keeps it), and checks it is a Tern store of this version.</summary>
    private void Attach()
    {
        Execute("PRAGMA locking_mode = EXCLUSIVE");
        var tables = new HashSet<string>(StringComparer.Ordinal);
        Each("SELECT name FROM sqlite_master WHERE type = 'table'", reader => tables.Add(reader.GetString(0)));
        if (Tables.FirstOrDefault(t => !tables.Contains(t)) is { } missing)
        {
            throw new StoreException($"Cannot use the store {Location}: it is not a Tern store (it has no table '{missing}'). Check the directory.");
        }

        var version = Scalar("SELECT value FROM meta WHERE key = 'schema_version'", null);
        if (version is null || Convert.ToInt64(version, CultureInfo.InvariantCulture) != SchemaVersion)
        {
            throw new StoreException($"Cannot use the store {Location}: it has schema version {version ?? "(none)"} and this Tern reads version {SchemaVersion}. Use the Tern that wrote it.");
        }
    }

    private StoreCounts CountCore() => new(
        Long("SELECT COUNT(*) FROM sessions"),
        Long("SELECT COUNT(*) FROM subscriptions"),
        Long("SELECT COUNT(*) FROM deliveries"),
        Long("SELECT COUNT(*) FROM incoming_qos2"),
        Long("SELECT COUNT(*) FROM messages"),
        Long("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM messages"),
        Long("SELECT COUNT(*) FROM retained"));

    private void CheckReferences(List<string> problems)
    {
        // Lookups by primary key (messages.id, sessions.client_id); the unreferenced messages by set difference.
        Tally(
            problems,
            "deliveries whose message is missing",
            "SELECT d.client_id, d.seq, d.message_id FROM deliveries d LEFT JOIN messages m ON m.id = d.message_id WHERE m.id IS NULL",
            r => $"client '{r.GetString(0)}' #{r.GetInt64(1)} -> message {r.GetInt64(2)}");
        Tally(
            problems,
            "retained entries whose message is missing",
            "SELECT r.topic, r.message_id FROM retained r LEFT JOIN messages m ON m.id = r.message_id WHERE m.id IS NULL",
            r => $"topic '{r.GetString(0)}' -> message {r.GetInt64(1)}");
        Tally(
            problems,
            "subscriptions of a missing session",
            "SELECT x.client_id, x.filter FROM subscriptions x LEFT JOIN sessions s ON s.client_id = x.client_id WHERE s.client_id IS NULL",
            r => $"client '{r.GetString(0)}' '{r.GetString(1)}'");
        Tally(
            problems,
            "deliveries of a missing session",
            "SELECT x.client_id, x.seq FROM deliveries x LEFT JOIN sessions s ON s.client_id = x.client_id WHERE s.client_id IS NULL",
            r => $"client '{r.GetString(0)}' #{r.GetInt64(1)}");
        Tally(
            problems,
            "incoming QoS 2 ids of a missing session",
            "SELECT x.client_id, x.packet_id FROM incoming_qos2 x LEFT JOIN sessions s ON s.client_id = x.client_id WHERE s.client_id IS NULL",
            r => $"client '{r.GetString(0)}' packet id {r.GetInt64(1)}");
        Tally(
            problems,
            "messages nothing refers to",
            "SELECT id FROM messages EXCEPT SELECT message_id FROM deliveries EXCEPT SELECT message_id FROM retained",
            r => $"id {r.GetInt64(0)}");
    }

    /// <summary>Every row read back as <see cref="Load"/> reads it, and the values the broker decodes at start.</summary>
    private void CheckValues(List<string> problems)
    {
        StoredState state;
        try
        {
            state = LoadCore();
        }
        catch (Exception ex) when (ex is InvalidCastException or FormatException or OverflowException)
        {
            problems.Add($"a row cannot be read ({Reason(ex)})");
            return;
        }

        StoreStateCheck.Values(state, problems);
    }

    /// <summary>Adds one problem line for the rows <paramref name="sql"/> finds, if any: how many, and the first few.</summary>
    private void Tally(List<string> problems, string what, string sql, Func<SqliteDataReader, string> describe)
    {
        var count = 0;
        var examples = new List<string>();
        Each(sql, reader =>
        {
            if (count++ < Examples)
            {
                examples.Add(describe(reader));
            }
        });
        if (count > 0)
        {
            problems.Add(Describe(what, count, examples));
        }
    }

    private static string Describe(string what, int count, List<string> examples) => StoreStateCheck.Describe(what, count, examples);

    private long Long(string sql) => Convert.ToInt64(Scalar(sql, null) ?? 0L, CultureInfo.InvariantCulture);
}
