using Tern.Server.Configuration;

namespace Tern.Server.Persistence;

/// <summary>How much a QoS 1/2 acknowledgement promises (<c>Persistence:Mode</c>).</summary>
public enum PersistenceMode
{
    /// <summary>Acknowledged once written to the store's log: survives the broker being killed; the OS writes it to disk within <c>FlushIntervalMs</c>.</summary>
    Durable,

    /// <summary>Acknowledged once the log is on disk (fsync): survives a loss of power too.</summary>
    Strict,

    /// <summary>Nothing on disk: a restart forgets sessions, queued and retained messages.</summary>
    Memory,
}

/// <summary>How the store keeps its data (<c>Persistence:Engine</c>).</summary>
public enum StoreEngine
{
    /// <summary>An append-only log of compact records in segment files, compacted as it goes (the default: the fastest, see docs/architecture.md).</summary>
    Log,

    /// <summary>One SQLite database (<c>tern.db</c>) in WAL mode: slower, and open to the <c>sqlite3</c> shell.</summary>
    Sqlite,
}

/// <summary>The <c>Persistence</c> section.</summary>
public sealed class PersistenceOptions
{
    public const string SectionName = "Persistence";

    /// <summary>The SQLite engine's file name in <see cref="Directory"/>.</summary>
    public const string SqliteFileName = "tern.db";

    public PersistenceMode Mode { get; set; } = PersistenceMode.Durable;

    public StoreEngine Engine { get; set; } = StoreEngine.Log;

    /// <summary>Where the store lives, relative to the working directory unless absolute.</summary>
    public string Directory { get; set; } = "data";

    /// <summary>Durable mode: how often what was written is forced to disk (ms).</summary>
    public int FlushIntervalMs { get; set; } = 1000;

    /// <summary>Where the store is: the directory (log engine), or the database file in it (SQLite).</summary>
    public string StorePath => Engine == StoreEngine.Sqlite ? Path.GetFullPath(Path.Combine(Directory, SqliteFileName)) : Path.GetFullPath(Directory);

    /// <summary>
    /// The <c>Persistence</c> section as <c>tern start</c> reads it (<paramref name="configFile"/> or
    /// <c>tern.json</c> in the working directory, then <c>TERN_</c> environment variables), for tools
    /// that work on the store.
    /// </summary>
    /// <exception cref="TernConfigurationException">A file is missing or malformed, or a value is invalid; the message names the key.</exception>
    public static PersistenceOptions FromConfiguration(string? configFile)
    {
        var options = TernConfiguration.Bind<PersistenceOptions>(TernConfiguration.Build(null, null, configFile), SectionName);
        TernConfiguration.Validate(options.Validate, SectionName);
        return options;
    }

    public void Validate()
    {
        if (!Enum.IsDefined(Mode))
        {
            throw new ArgumentException($"Persistence:Mode must be durable, strict or memory.");
        }

        if (!Enum.IsDefined(Engine))
        {
            throw new ArgumentException($"Persistence:Engine must be log or sqlite.");
        }

        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("Persistence:Directory must name a directory.");
        }

        if (FlushIntervalMs is < 10 or > 60_000)
        {
            throw new ArgumentException("Persistence:FlushIntervalMs must be between 10 and 60000.");
        }
    }
}
