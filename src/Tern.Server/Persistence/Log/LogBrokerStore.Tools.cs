using Tern.Broker.Persistence;

namespace Tern.Server.Persistence.Log;

/// <summary>What <c>tern data</c> does with a log store while no broker has it.</summary>
public sealed partial class LogBrokerStore : IStoreTools
{
    private List<string>? _readProblems;
    private StoredState? _toolState;

    /// <summary>
    /// Opens the store in <paramref name="directory"/> for a tool. With <paramref name="create"/> it
    /// is created if missing; without, it must exist, and opening it changes nothing. Corruption does
    /// not stop the opening: <see cref="Check"/> reports it, and <see cref="Load"/> refuses.
    /// Writes are synced (strict mode).
    /// </summary>
    /// <exception cref="StoreException">It does not exist (without <paramref name="create"/>), is not usable, or a broker has it.</exception>
    public static LogBrokerStore OpenForTool(string directory, bool create)
    {
        directory = Path.GetFullPath(directory);
        if (!create && !Exists(directory))
        {
            throw new StoreException($"No store at {directory}. Give the broker's Persistence:Directory with --dir, or its configuration with -c.");
        }

        var problems = new List<string>();
        var store = Open(directory, strict: true, create, tool: true, problems);
        store._readProblems = problems;
        store._toolState = store._loaded;
        return store;
    }

    StoredState IStoreTools.Load()
    {
        if (_readProblems is { Count: > 0 } problems)
        {
            throw new StoreException($"Cannot read the store {Location}: {problems[0]}. 'tern data check' lists what can be read.");
        }

        return _toolState!;
    }

    public StoreCounts Count() => StoreStateCheck.Count(_toolState!);

    public StoreCheckReport Check()
    {
        var problems = new List<string>(_readProblems ?? []);
        var state = _toolState!;
        StoreStateCheck.References(state, problems);
        StoreStateCheck.Values(state, problems);
        return new StoreCheckReport(Count(), SizeBytes, problems);
    }

    /// <summary>
    /// Writes <paramref name="state"/> as one frame that starts with a reset, in a segment of its own,
    /// then deletes the older segments: a crash before the frame is whole leaves the store as it was.
    /// </summary>
    public void Replace(StoredState state)
    {
        var batch = StoreStateCheck.ToBatch(state);
        try
        {
            NewSegment();
            _encoder.BeginFrame(batch.WrittenUnixMs);
            _encoder.Reset();
            Encode(batch);
            var frameStart = Append(_encoder.EndFrame());
            _index.Reset();
            Index(batch, frameStart);
            _encoder.Trim();
            while (_segments.Count > 1)
            {
                DeleteOldest();
            }

            SyncDirectory(Location);
            _toolState = state;
            _readProblems = [];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Explain(Location, ex);
        }
    }
}
