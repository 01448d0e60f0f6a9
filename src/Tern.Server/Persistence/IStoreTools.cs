using Tern.Broker.Persistence;

namespace Tern.Server.Persistence;

/// <summary>What <c>tern data</c> does with a store while no broker has it, whatever its engine.</summary>
public interface IStoreTools : IDisposable
{
    /// <summary>Where the store is (its directory, or its file for SQLite).</summary>
    string Location { get; }

    /// <summary>Everything stored, as a broker would restore it.</summary>
    /// <exception cref="StoreException">The store cannot be read (it is corrupt: <see cref="Check"/> says where).</exception>
    StoredState Load();

    /// <summary>How much it holds, by kind.</summary>
    /// <exception cref="StoreException">The store cannot be read.</exception>
    StoreCounts Count();

    /// <summary>Checks every record and every reference between sessions, deliveries, messages and retained entries.</summary>
    /// <exception cref="StoreException">The store cannot be read at all (corruption is a problem in the report).</exception>
    StoreCheckReport Check();

    /// <summary>Replaces everything the store holds by <paramref name="state"/>, atomically: when this throws, the store is as it was.</summary>
    /// <exception cref="StoreException">The store cannot be written (disk full, read-only).</exception>
    void Replace(StoredState state);
}

/// <summary>Opens the configured store engine for a broker or a tool.</summary>
public static class BrokerStores
{
    /// <summary>The store for a broker (<see cref="PersistenceOptions.Mode"/> durable or strict).</summary>
    /// <exception cref="StoreException">It cannot be used; the message names the file and what to do.</exception>
    public static IBrokerStore Open(PersistenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var strict = options.Mode == PersistenceMode.Strict;
        return options.Engine == StoreEngine.Sqlite
            ? SqliteBrokerStore.Open(options.StorePath, strict)
            : Log.LogBrokerStore.Open(options.StorePath, strict);
    }

    /// <summary>
    /// The engine of what is in <paramref name="directory"/>: the configured one, unless the directory
    /// holds only the other engine's store (so that 'tern data export' reads an older store as it is).
    /// </summary>
    public static StoreEngine Detect(string directory, StoreEngine configured)
    {
        var sqlite = File.Exists(Path.Combine(directory, PersistenceOptions.SqliteFileName));
        var log = Log.LogBrokerStore.Exists(directory);
        return configured switch
        {
            StoreEngine.Log when sqlite && !log => StoreEngine.Sqlite,
            StoreEngine.Sqlite when log && !sqlite => StoreEngine.Log,
            _ => configured,
        };
    }

    /// <summary>Whether a store of <paramref name="engine"/> exists in <paramref name="directory"/>.</summary>
    public static bool Exists(string directory, StoreEngine engine)
        => engine == StoreEngine.Sqlite ? File.Exists(Path.Combine(directory, PersistenceOptions.SqliteFileName)) : Log.LogBrokerStore.Exists(directory);

    /// <summary>The store in <paramref name="directory"/> for a tool, created if missing with <paramref name="create"/>.</summary>
    /// <exception cref="StoreException">It does not exist (without <paramref name="create"/>), is not a Tern store, or a broker has it.</exception>
    public static IStoreTools OpenForTool(string directory, StoreEngine engine, bool create)
        => engine == StoreEngine.Sqlite
            ? SqliteBrokerStore.OpenForTool(Path.GetFullPath(Path.Combine(directory, PersistenceOptions.SqliteFileName)), create)
            : Log.LogBrokerStore.OpenForTool(directory, create);
}
