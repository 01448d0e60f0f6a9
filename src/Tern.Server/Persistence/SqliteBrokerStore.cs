using System.Globalization;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Tern.Broker;
using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Server.Persistence;

/// <summary>
/// The embedded store: one SQLite database in WAL mode (<c>data/tern.db</c>), opened exclusively by
/// one broker. Each batch is one transaction of prepared statements. Durable mode commits without
/// fsync (the write reaches the OS, which survives the process being killed) and checkpoints, which
/// syncs, on <see cref="Flush"/>; strict mode syncs the log on every commit.
/// </summary>
public sealed partial class SqliteBrokerStore : IBrokerStore
{
    private const int SchemaVersion = 1;
    private const string ReadOnly = "it is read-only. Make it and its directory writable by this user, or set Persistence:Directory elsewhere";

    private readonly SqliteConnection _connection;
    private readonly bool _strict;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    private SqliteBrokerStore(string path, SqliteConnection connection, bool strict)
    {
        Location = path;
        _connection = connection;
        _strict = strict;
    }

    public string Location { get; }

    public long SizeBytes
    {
        get
        {
            long size = 0;
            foreach (var file in new[] { Location, Location + "-wal" })
            {
                var info = new FileInfo(file);
                size += info.Exists ? info.Length : 0;
            }

            return size;
        }
    }

    /// <summary>Opens (creating it and its directory if needed) the store at <paramref name="path"/>.</summary>
    /// <exception cref="StoreException">It cannot be created or written, is not a Tern store, is corrupt, or another broker has it open.</exception>
    public static SqliteBrokerStore Open(string path, bool strict) => Open(path, strict, create: true, tool: false);

    private static SqliteBrokerStore Open(string path, bool strict, bool create, bool tool)
    {
        if (InTheWay(path) is { } problem)
        {
            throw new StoreException($"Cannot use the store {path}: {problem}.");
        }

        SqliteConnection? connection = null;
        try
        {
            if (create)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            }

            connection = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = path,
                Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
                Pooling = false,

                // The broker's one connection holds the file exclusively; another process trying it
                // should hear so at once, not after the default 30 s wait for the lock.
                DefaultTimeout = 1,
            }.ToString());
            connection.Open();
            if (raw.sqlite3_db_readonly(connection.Handle, "main") == 1)
            {
                // SQLite opens a file it may not write read-only without a word; its exclusive lock
                // would then fail as a "disk I/O error".
                throw new StoreException($"Cannot use the store {path}: {ReadOnly}.");
            }

            var store = new SqliteBrokerStore(path, connection, strict);
            if (create)
            {
                store.Initialize();
            }
            else
            {
                store.Attach();
            }

            return store;
        }
        catch (Exception ex)
        {
            connection?.Dispose();
            if (ex is SqliteException or IOException or UnauthorizedAccessException)
            {
                throw Explain(path, ex, tool);
            }

            throw;
        }
    }

    public StoredState Load()
    {
        try
        {
            return LoadCore();
        }
        catch (Exception ex) when (ex is SqliteException or InvalidCastException or FormatException or MqttProtocolException)
        {
            throw Explain(Location, ex);
        }
    }

    public void Write(StoreBatch batch)
    {
        using var transaction = _connection.BeginTransaction();
        Apply(batch, transaction);
        transaction.Commit();
    }

    /// <summary>The statements of <see cref="Write"/>, inside <paramref name="transaction"/>.</summary>
    private void Apply(StoreBatch batch, SqliteTransaction transaction)
    {
        foreach (var clientId in batch.SessionsDeleted)
        {
            foreach (var table in (ReadOnlySpan<string>)["sessions", "subscriptions", "deliveries", "incoming_qos2"])
            {
                Run($"DELETE FROM {table} WHERE client_id = $c", transaction, clientId);
            }
        }

        foreach (var s in batch.Sessions)
        {
            Run(
                "INSERT OR REPLACE INTO sessions (client_id, expiry, disconnected, will_topic, will_payload, will_qos, will_retain, will_properties, will_due, username, address, listener) VALUES ($c, $e, $d, $wt, $wp, $wq, $wr, $wprops, $wd, $u, $a, $l)",
                transaction,
                s.ClientId,
                (long)s.ExpiryInterval,
                s.DisconnectedUnixMs,
                s.Will?.Topic,
                s.Will?.Payload.ToArray(),
                s.Will is { } w ? (long)w.QoS : null,
                s.Will is { } r ? (r.Retain ? 1L : 0L) : null,
                s.Will?.Properties,
                s.WillDueUnixMs,
                s.Username,
                s.Address,
                s.Listener);
        }

        foreach (var s in batch.Subscriptions)
        {
            Run(
                "INSERT OR REPLACE INTO subscriptions (client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id) VALUES ($c, $f, $q, $n, $r, $h, $i)",
                transaction,
                s.ClientId,
                s.Filter,
                (long)s.Options.QoS,
                s.Options.NoLocal ? 1L : 0L,
                s.Options.RetainAsPublished ? 1L : 0L,
                (long)s.Options.RetainHandling,
                s.SubscriptionIdentifier is { } id ? (long)id : null);
        }

        foreach (var (clientId, filter) in batch.SubscriptionsDeleted)
        {
            Run("DELETE FROM subscriptions WHERE client_id = $c AND filter = $f", transaction, clientId, filter);
        }

        foreach (var m in batch.MessagesInserted)
        {
            Run(
                "INSERT OR REPLACE INTO messages (id, topic, payload, qos, retain, properties, publisher, created) VALUES ($i, $t, $p, $q, $r, $props, $pub, $cr)",
                transaction,
                m.Id,
                m.Topic,
                m.Payload.ToArray(),
                (long)m.QoS,
                m.Retain ? 1L : 0L,
                m.Properties,
                m.PublisherClientId,
                m.CreatedUnixMs);
        }

        foreach (var d in batch.Deliveries)
        {
            Run(
                "INSERT OR REPLACE INTO deliveries (client_id, seq, message_id, qos, retain, subscription_ids, shared, packet_id, released) VALUES ($c, $s, $m, $q, $r, $ids, $sh, $p, $rel)",
                transaction,
                d.ClientId,
                d.Sequence,
                d.MessageId,
                (long)d.QoS,
                d.Retain ? 1L : 0L,
                d.SubscriptionIdentifiers is { } ids ? string.Join(',', ids) : null,
                d.SharedFilter,
                (long)d.PacketId,
                d.Released ? 1L : 0L);
        }

        foreach (var (clientId, sequence) in batch.DeliveriesDeleted)
        {
            Run("DELETE FROM deliveries WHERE client_id = $c AND seq = $s", transaction, clientId, sequence);
        }

        foreach (var (clientId, packetId) in batch.IncomingQoS2)
        {
            Run("INSERT OR IGNORE INTO incoming_qos2 (client_id, packet_id) VALUES ($c, $p)", transaction, clientId, (long)packetId);
        }

        foreach (var (clientId, packetId) in batch.IncomingQoS2Deleted)
        {
            Run("DELETE FROM incoming_qos2 WHERE client_id = $c AND packet_id = $p", transaction, clientId, (long)packetId);
        }

        foreach (var (topic, messageId) in batch.Retained)
        {
            Run("INSERT OR REPLACE INTO retained (topic, message_id) VALUES ($t, $m)", transaction, topic, messageId);
        }

        foreach (var topic in batch.RetainedDeleted)
        {
            Run("DELETE FROM retained WHERE topic = $t", transaction, topic);
        }

        foreach (var ban in batch.Bans)
        {
            Run(
                "INSERT OR REPLACE INTO bans (kind, value, until, reason) VALUES ($k, $v, $u, $r)",
                transaction,
                (long)ban.Kind,
                ban.Value,
                ban.Until?.ToUnixTimeMilliseconds(),
                ban.Reason);
        }

        foreach (var (kind, value) in batch.BansDeleted)
        {
            Run("DELETE FROM bans WHERE kind = $k AND value = $v", transaction, (long)kind, value);
        }

        foreach (var id in batch.MessagesDeleted)
        {
            Run("DELETE FROM messages WHERE id = $i", transaction, id);
        }

        Run("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_written', $v)", transaction, batch.WrittenUnixMs);
    }

    public void Flush()
    {
        if (!_strict)
        {
            // Syncs the log, copies it into the database and syncs that (synchronous=NORMAL).
            Execute("PRAGMA wal_checkpoint(PASSIVE)");
        }
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
        try
        {
            Execute("PRAGMA wal_checkpoint(TRUNCATE)");
        }
        catch (SqliteException)
        {
            // Closing anyway: the log is replayed on the next open.
        }

        _connection.Dispose();
    }

    /// <summary>One message for a store that cannot be used: the file, the problem, what to do.</summary>
    /// <param name="path">The store.</param>
    /// <param name="ex">What SQLite or the file system said.</param>
    /// <param name="tool">For <c>tern data</c> rather than a broker starting: a lock means a broker has the store.</param>
    internal static StoreException Explain(string path, Exception ex, bool tool = false)
    {
        var code = ex is SqliteException sqlite ? sqlite.SqliteErrorCode : 0;
        var what = code switch
        {
            5 or 6 when tool => "it is in use by another process, most likely a running Tern broker. Stop the broker first: 'tern data' needs the store to itself",
            5 or 6 => "it is in use by another process (another Tern on the same Persistence:Directory?). Stop that one, or give this broker its own Persistence:Directory",
            8 => ReadOnly,
            11 or 26 => $"it is corrupt or not a Tern store ({Reason(ex)}). Move it away to start with an empty store, or restore a backup with 'tern data import'",
            13 => "the disk is full. Free some space",
            14 => $"it cannot be opened ({Reason(ex)}). Check that Persistence:Directory exists and is writable",
            _ => $"{Reason(ex)}. Check the file, or move it away to start with an empty store",
        };
        return new StoreException($"Cannot use the store {path}: {what}.", ex);
    }

    /// <summary>What stands where the store or its directory should be (a file for a directory, or the other way round), or null.</summary>
    private static string? InTheWay(string path)
    {
        if (Directory.Exists(path))
        {
            return "it is a directory, not a file. Move it away, or set Persistence:Directory elsewhere";
        }

        for (var directory = Path.GetDirectoryName(path); !string.IsNullOrEmpty(directory); directory = Path.GetDirectoryName(directory))
        {
            if (File.Exists(directory))
            {
                return $"{directory} is a file, not a directory. Move it away, or set Persistence:Directory elsewhere";
            }
        }

        return null;
    }

    private static string Reason(Exception ex) => ex is SqliteException sqlite ? sqlite.Message.Replace("SQLite Error ", "error ", StringComparison.Ordinal).TrimEnd('.') : ex.Message.TrimEnd('.');

    private void Initialize()
    {
        // One broker per store: an exclusive lock, taken by the first write below and kept.
        Execute("PRAGMA locking_mode = EXCLUSIVE");
        Execute("PRAGMA journal_mode = WAL");
        Execute(_strict ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        using var transaction = _connection.BeginTransaction();
        foreach (var ddl in Schema)
        {
            Execute(ddl, transaction);
        }

        var version = Scalar("SELECT value FROM meta WHERE key = 'schema_version'", transaction);
        if (version is null)
        {
            Execute($"INSERT INTO meta (key, value) VALUES ('schema_version', {SchemaVersion})", transaction);
        }
        else if (Convert.ToInt64(version, CultureInfo.InvariantCulture) != SchemaVersion)
        {
            throw new StoreException($"Cannot use the store {Location}: it has schema version {version} and this Tern reads version {SchemaVersion}. Use the Tern that wrote it, or export it with that one ('tern data export') and import it here.");
        }

        transaction.Commit();
    }

    private static readonly string[] Schema =
    [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, properties BLOB, publisher TEXT, created INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, expiry INTEGER NOT NULL, disconnected INTEGER, will_topic TEXT, will_payload BLOB, will_qos INTEGER, will_retain INTEGER, will_properties BLOB, will_due INTEGER, username TEXT, address TEXT, listener TEXT) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL, no_local INTEGER NOT NULL, retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL, subscription_id INTEGER, PRIMARY KEY (client_id, filter)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS deliveries (client_id TEXT NOT NULL, seq INTEGER NOT NULL, message_id INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, subscription_ids TEXT, shared TEXT, packet_id INTEGER NOT NULL, released INTEGER NOT NULL, PRIMARY KEY (client_id, seq)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS incoming_qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, message_id INTEGER NOT NULL) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS bans (kind INTEGER NOT NULL, value TEXT NOT NULL, until INTEGER, reason TEXT NOT NULL, PRIMARY KEY (kind, value)) WITHOUT ROWID",
    ];

    private StoredState LoadCore()
    {
        var state = new StoredState();
        if (Scalar("SELECT value FROM meta WHERE key = 'last_written'", null) is { } lastWritten)
        {
            state.LastWrittenUnixMs = Convert.ToInt64(lastWritten, CultureInfo.InvariantCulture);
        }

        Each("SELECT id, topic, payload, qos, retain, properties, publisher, created FROM messages", reader =>
        {
            state.Messages.Add(new StoredMessage(
                reader.GetInt64(0),
                reader.GetString(1),
                (byte[])reader.GetValue(2),
                (MqttQoS)reader.GetInt64(3),
                reader.GetInt64(4) != 0,
                reader.IsDBNull(5) ? null : (byte[])reader.GetValue(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetInt64(7)));
        });

        Each("SELECT client_id, expiry, disconnected, will_topic, will_payload, will_qos, will_retain, will_properties, will_due, username, address, listener FROM sessions", reader =>
        {
            StoredWill? will = reader.IsDBNull(3)
                ? null
                : new StoredWill(reader.GetString(3), reader.IsDBNull(4) ? Array.Empty<byte>() : (byte[])reader.GetValue(4), (MqttQoS)reader.GetInt64(5), reader.GetInt64(6) != 0, reader.IsDBNull(7) ? null : (byte[])reader.GetValue(7));
            state.Sessions.Add(new StoredSession(
                reader.GetString(0),
                (uint)reader.GetInt64(1),
                reader.IsDBNull(2) ? null : reader.GetInt64(2),
                will,
                reader.IsDBNull(8) ? null : reader.GetInt64(8),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.IsDBNull(10) ? null : reader.GetString(10),
                reader.IsDBNull(11) ? null : reader.GetString(11)));
        });

        Each("SELECT client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id FROM subscriptions", reader =>
        {
            state.Subscriptions.Add(new StoredSubscription(
                reader.GetString(0),
                reader.GetString(1),
                new SubscriptionOptions((MqttQoS)reader.GetInt64(2), reader.GetInt64(3) != 0, reader.GetInt64(4) != 0, (byte)reader.GetInt64(5)),
                reader.IsDBNull(6) ? null : (uint)reader.GetInt64(6)));
        });

        Each("SELECT client_id, seq, message_id, qos, retain, subscription_ids, shared, packet_id, released FROM deliveries ORDER BY client_id, seq", reader =>
        {
            state.Deliveries.Add(new StoredDelivery(
                reader.GetString(0),
                reader.GetInt64(1),
                reader.GetInt64(2),
                (MqttQoS)reader.GetInt64(3),
                reader.GetInt64(4) != 0,
                reader.IsDBNull(5) ? null : reader.GetString(5).Split(',').Select(id => uint.Parse(id, CultureInfo.InvariantCulture)).ToArray(),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                (ushort)reader.GetInt64(7),
                reader.GetInt64(8) != 0));
        });

        Each("SELECT client_id, packet_id FROM incoming_qos2", reader =>
        {
            state.IncomingQoS2.Add((reader.GetString(0), (ushort)reader.GetInt64(1)));
        });

        Each("SELECT topic, message_id FROM retained", reader =>
        {
            state.Retained.Add((reader.GetString(0), reader.GetInt64(1)));
        });

        Each("SELECT kind, value, until, reason FROM bans", reader =>
        {
            state.Bans.Add(new Ban(
                (BanKind)reader.GetInt64(0),
                reader.GetString(1),
                reader.IsDBNull(2) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                reader.GetString(3)));
        });

        return state;
    }

    /// <summary>Runs a prepared statement, its parameters bound in the order they appear in <paramref name="sql"/>.</summary>
    private void Run(string sql, SqliteTransaction transaction, params object?[] values)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            var index = 0;
            while ((index = sql.IndexOf('$', index)) >= 0)
            {
                var end = index + 1;
                while (end < sql.Length && (char.IsLetterOrDigit(sql[end]) || sql[end] == '_'))
                {
                    end++;
                }

                command.Parameters.Add(new SqliteParameter(sql[index..end], null));
                index = end;
            }

            command.Prepare();
            _commands[sql] = command;
        }

        command.Transaction = transaction;
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        command.ExecuteNonQuery();
    }

    private void Execute(string sql, SqliteTransaction? transaction = null)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }

    private object? Scalar(string sql, SqliteTransaction? transaction)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        var value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }

    private void Each(string sql, Action<SqliteDataReader> row)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            row(reader);
        }
    }
}
