using System.Runtime.InteropServices;
using Tern.Broker;

namespace Tern.Server.Persistence.Log;

/// <summary>Where the live version of a key is in the log: segment and offset, and its size in bytes.</summary>
internal readonly record struct LogLocation(long Position, int Size)
{
    public int Segment => (int)(Position >> 32);

    public static long PositionOf(int segment, long offset) => ((long)segment << 32) | offset;
}

/// <summary>A segment file: its size and how much of it is still live.</summary>
internal sealed class LogSegment(int number, string path)
{
    public int Number { get; } = number;

    public string Path { get; } = path;

    public long Length { get; set; }

    public long LiveBytes { get; set; }

    public long LiveRecords { get; set; }
}

/// <summary>One client's keys in the log.</summary>
internal sealed class LogClient
{
    public LogLocation Session;

    public Dictionary<string, LogLocation>? Subscriptions;

    public Dictionary<long, LogLocation>? Deliveries;

    public Dictionary<ushort, LogLocation>? Incoming;
}

/// <summary>
/// Every live key of the log and where its latest record is, kept in memory so that the store knows,
/// without reading the disk, which segments hold nothing live any more (deleted whole) and which
/// records compaction must carry forward. Keys only: the values stay on disk.
/// </summary>
internal sealed class LogIndex
{
    public Dictionary<long, LogLocation> Messages { get; } = [];

    public Dictionary<string, LogClient> Clients { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, LogLocation> Retained { get; } = new(StringComparer.Ordinal);

    public Dictionary<(BanKind Kind, string Value), LogLocation> Bans { get; } = [];

    /// <summary>Segments by number.</summary>
    public Dictionary<int, LogSegment> Segments { get; } = [];

    public long LiveBytes { get; private set; }

    public void Reset()
    {
        Messages.Clear();
        Clients.Clear();
        Retained.Clear();
        Bans.Clear();
        foreach (var segment in Segments.Values)
        {
            segment.LiveBytes = 0;
            segment.LiveRecords = 0;
        }

        LiveBytes = 0;
    }

    public LogClient Client(string clientId)
    {
        ref var client = ref CollectionsMarshal.GetValueRefOrAddDefault(Clients, clientId, out _);
        return client ??= new LogClient();
    }

    public void PutSession(string clientId, LogLocation location)
    {
        var client = Client(clientId);
        Dead(client.Session);
        client.Session = location;
        Live(location);
    }

    public void DeleteClient(string clientId)
    {
        if (!Clients.Remove(clientId, out var client))
        {
            return;
        }

        Dead(client.Session);
        DeadAll(client.Subscriptions);
        DeadAll(client.Deliveries);
        DeadAll(client.Incoming);
    }

    public void Put<TKey>(Dictionary<TKey, LogLocation> map, TKey key, LogLocation location)
        where TKey : notnull
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(map, key, out var existed);
        if (existed)
        {
            Dead(slot);
        }

        slot = location;
        Live(location);
    }

    public void Delete<TKey>(Dictionary<TKey, LogLocation>? map, TKey key)
        where TKey : notnull
    {
        if (map is not null && map.Remove(key, out var old))
        {
            Dead(old);
        }
    }

    /// <summary>A client's map, created on first use.</summary>
    public static Dictionary<TKey, LogLocation> Of<TKey>(ref Dictionary<TKey, LogLocation>? map, IEqualityComparer<TKey>? comparer = null)
        where TKey : notnull
        => map ??= new Dictionary<TKey, LogLocation>(comparer);

    /// <summary>A key whose record moved (compaction): same size, new place.</summary>
    public void Moved(ref LogLocation slot, long position)
    {
        Dead(slot);
        slot = slot with { Position = position };
        Live(slot);
    }

    private void DeadAll<TKey>(Dictionary<TKey, LogLocation>? map)
        where TKey : notnull
    {
        if (map is null)
        {
            return;
        }

        foreach (var location in map.Values)
        {
            Dead(location);
        }
    }

    private void Live(LogLocation location)
    {
        var segment = Segments[location.Segment];
        segment.LiveBytes += location.Size;
        segment.LiveRecords++;
        LiveBytes += location.Size;
    }

    private void Dead(LogLocation location)
    {
        if (location.Position == 0)
        {
            return;
        }

        var segment = Segments[location.Segment];
        segment.LiveBytes -= location.Size;
        segment.LiveRecords--;
        LiveBytes -= location.Size;
    }
}
