using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Tern.Broker;
using Tern.Broker.Persistence;

namespace Tern.Server.Persistence.Log;

/// <summary>
/// The default store: an append-only log of compact records in segment files
/// (<c>data/00000001.log</c>, ...), of the kind Mosquitto's and NATS JetStream's stores write. Each
/// batch is one frame, appended with one write; durable mode leaves it to the OS (it survives the
/// broker being killed) and syncs on <see cref="Flush"/>, strict mode syncs every frame. The keys of
/// what is live are indexed in memory, so a segment that holds nothing live any more is deleted
/// whole, and when the log grows past twice what is live the oldest segment's live records are
/// copied forward and it is deleted. Start-up replays the segments; a frame torn by a crash at the
/// end of the newest one is cut off, anything else that fails its checksum stops the broker.
/// </summary>
public sealed partial class LogBrokerStore : IBrokerStore
{
    /// <summary>The file that marks the directory as taken by one process.</summary>
    public const string LockFileName = "tern.lock";

    private const string Extension = ".log";
    private const int FormatVersion = 1;
    private const int SegmentHeaderSize = 16;
    private const string ReadOnly = "it is read-only. Make the directory and its files writable by this user, or set Persistence:Directory elsewhere";

    private static ReadOnlySpan<byte> Magic => "TERNLOG\n"u8;

    private readonly bool _strict;
    private readonly bool _tool;
    private readonly FileStream _lock;
    private readonly LogIndex _index = new();
    private readonly LogEncoder _encoder = new();
    private readonly List<int> _starts = [];
    private readonly List<LogSegment> _segments = []; // oldest first; the last is the active one
    private SafeFileHandle? _active;
    private bool _unsynced;
    private long _size;
    private StoredState? _loaded;

    private LogBrokerStore(string directory, bool strict, bool tool, FileStream lockFile)
    {
        Location = directory;
        _strict = strict;
        _tool = tool;
        _lock = lockFile;
    }

    /// <summary>The store's directory.</summary>
    public string Location { get; }

    public long SizeBytes => Interlocked.Read(ref _size);

    /// <summary>A new segment is started once the current one holds this many bytes.</summary>
    internal long SegmentBytes { get; set; } = 16 << 20;

    /// <summary>The log is compacted only above this size (and when it is more than twice what is live).</summary>
    internal long CompactMinBytes { get; set; } = 64 << 20;

    /// <summary>Bytes cut off the end of the newest segment at open: a frame a crash left half written.</summary>
    public long TornBytes { get; private set; }

    /// <summary>Bytes of the records that are live (what compaction would keep).</summary>
    internal long LiveBytes => _index.LiveBytes;

    /// <summary>Segment files, oldest first.</summary>
    internal IReadOnlyList<string> SegmentPaths => _segments.ConvertAll(s => s.Path);

    /// <summary>Opens (creating it if needed) the store in <paramref name="directory"/> and reads it.</summary>
    /// <exception cref="StoreException">It cannot be created or written, is corrupt or not a Tern store, or another process has it.</exception>
    public static LogBrokerStore Open(string directory, bool strict) => Open(directory, strict, create: true, tool: false, problems: null);

    /// <summary>Whether <paramref name="directory"/> holds a log store (at least one segment).</summary>
    public static bool Exists(string directory)
        => Directory.Exists(directory) && Directory.EnumerateFiles(directory, "*" + Extension).Any(f => SegmentNumber(f) > 0);

    private static LogBrokerStore Open(string directory, bool strict, bool create, bool tool, List<string>? problems)
    {
        directory = Path.GetFullPath(directory);
        if (InTheWay(directory) is { } problem)
        {
            throw new StoreException($"Cannot use the store {directory}: {problem}.");
        }

        FileStream? lockFile = null;
        try
        {
            if (create)
            {
                Directory.CreateDirectory(directory);
            }

            if (!Exists(directory) && File.Exists(Path.Combine(directory, PersistenceOptions.SqliteFileName)))
            {
                throw new StoreException(
                    $"Cannot use the store {directory}: it holds a SQLite store ({PersistenceOptions.SqliteFileName}). Set Persistence:Engine=sqlite to keep using it, "
                    + $"or move it to the log engine: 'tern data export FILE' (it reads {PersistenceOptions.SqliteFileName}), move {PersistenceOptions.SqliteFileName} away, then 'tern data import FILE'.");
            }

            try
            {
                // FileShare.None takes an exclusive advisory lock (flock) on Unix: one broker per directory.
                lockFile = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException ex) when (ex.GetType() == typeof(IOException))
            {
                throw InUse(directory, tool, ex);
            }

            if (!tool || create)
            {
                // A directory that cannot take a new segment is found now, not at the first rotation.
                using var probe = new FileStream(Path.Combine(directory, ".write-probe"), FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            }

            var store = new LogBrokerStore(directory, strict, tool, lockFile);
            try
            {
                store.Read(problems);
                if (!tool || create)
                {
                    store.StartWriting();
                }
            }
            catch
            {
                store.CloseFiles();
                throw;
            }

            return store;
        }
        catch (Exception ex) when (ex is not StoreException)
        {
            lockFile?.Dispose();
            if (ex is IOException or UnauthorizedAccessException)
            {
                throw Explain(directory, ex);
            }

            throw;
        }
        catch
        {
            lockFile?.Dispose();
            throw;
        }
    }

    public StoredState Load()
    {
        var state = _loaded ?? throw new InvalidOperationException("The store was loaded already.");
        _loaded = null;
        return state;
    }

    public void Write(StoreBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _encoder.BeginFrame(batch.WrittenUnixMs);
        Encode(batch);
        var frame = _encoder.EndFrame();
        var frameStart = Append(frame);
        Index(batch, frameStart);
        _encoder.Trim();
        Compact(batch.WrittenUnixMs, frame.Length);
    }

    public void Flush()
    {
        if (_unsynced && _active is not null)
        {
            RandomAccess.FlushToDisk(_active);
            _unsynced = false;
        }
    }

    public void Dispose()
    {
        try
        {
            Flush();
        }
        catch (IOException)
        {
            // Closing anyway: what reached the OS is in the file.
        }

        CloseFiles();
        _lock.Dispose();
    }

    private void CloseFiles()
    {
        _active?.Dispose();
        _active = null;
    }

    /// <summary>The records of <paramref name="batch"/>, in the order <see cref="StoreBatch"/> gives.</summary>
    private void Encode(StoreBatch batch)
    {
        var e = _encoder;
        var starts = _starts;
        starts.Clear();
        foreach (var clientId in batch.SessionsDeleted)
        {
            starts.Add(e.Length);
            e.SessionDelete(clientId);
        }

        foreach (var s in batch.Sessions)
        {
            starts.Add(e.Length);
            e.SessionPut(s);
        }

        foreach (var s in batch.Subscriptions)
        {
            starts.Add(e.Length);
            e.SubscriptionPut(s);
        }

        foreach (var (clientId, filter) in batch.SubscriptionsDeleted)
        {
            starts.Add(e.Length);
            e.SubscriptionDelete(clientId, filter);
        }

        foreach (var m in batch.MessagesInserted)
        {
            starts.Add(e.Length);
            e.MessagePut(m);
        }

        foreach (var d in batch.Deliveries)
        {
            starts.Add(e.Length);
            e.DeliveryPut(d);
        }

        foreach (var (clientId, sequence) in batch.DeliveriesDeleted)
        {
            starts.Add(e.Length);
            e.DeliveryDelete(clientId, sequence);
        }

        foreach (var (clientId, packetId) in batch.IncomingQoS2)
        {
            starts.Add(e.Length);
            e.Incoming(clientId, packetId, put: true);
        }

        foreach (var (clientId, packetId) in batch.IncomingQoS2Deleted)
        {
            starts.Add(e.Length);
            e.Incoming(clientId, packetId, put: false);
        }

        foreach (var (topic, messageId) in batch.Retained)
        {
            starts.Add(e.Length);
            e.RetainedPut(topic, messageId);
        }

        foreach (var topic in batch.RetainedDeleted)
        {
            starts.Add(e.Length);
            e.RetainedDelete(topic);
        }

        foreach (var ban in batch.Bans)
        {
            starts.Add(e.Length);
            e.BanPut(ban);
        }

        foreach (var (kind, value) in batch.BansDeleted)
        {
            starts.Add(e.Length);
            e.BanDelete(kind, value);
        }

        foreach (var id in batch.MessagesDeleted)
        {
            starts.Add(e.Length);
            e.MessageDelete(id);
        }

        starts.Add(e.Length);
    }

    /// <summary>The index after <paramref name="batch"/> was written at <paramref name="frameStart"/> (the same walk as <see cref="Encode"/>).</summary>
    private void Index(StoreBatch batch, long frameStart)
    {
        var index = _index;
        var segment = _segments[^1].Number;
        var i = 0;
        LogLocation Next()
        {
            var start = _starts[i];
            var size = _starts[++i] - start;
            return new LogLocation(LogLocation.PositionOf(segment, frameStart + start), size);
        }

        foreach (var clientId in batch.SessionsDeleted)
        {
            Next();
            index.DeleteClient(clientId);
        }

        foreach (var s in batch.Sessions)
        {
            index.PutSession(s.ClientId, Next());
        }

        foreach (var s in batch.Subscriptions)
        {
            index.Put(LogIndex.Of(ref index.Client(s.ClientId).Subscriptions, StringComparer.Ordinal), s.Filter, Next());
        }

        foreach (var (clientId, filter) in batch.SubscriptionsDeleted)
        {
            Next();
            if (index.Clients.TryGetValue(clientId, out var client))
            {
                index.Delete(client.Subscriptions, filter);
            }
        }

        foreach (var m in batch.MessagesInserted)
        {
            index.Put(index.Messages, m.Id, Next());
        }

        foreach (var d in batch.Deliveries)
        {
            index.Put(LogIndex.Of(ref index.Client(d.ClientId).Deliveries), d.Sequence, Next());
        }

        foreach (var (clientId, sequence) in batch.DeliveriesDeleted)
        {
            Next();
            if (index.Clients.TryGetValue(clientId, out var client))
            {
                index.Delete(client.Deliveries, sequence);
            }
        }

        foreach (var (clientId, packetId) in batch.IncomingQoS2)
        {
            index.Put(LogIndex.Of(ref index.Client(clientId).Incoming), packetId, Next());
        }

        foreach (var (clientId, packetId) in batch.IncomingQoS2Deleted)
        {
            Next();
            if (index.Clients.TryGetValue(clientId, out var client))
            {
                index.Delete(client.Incoming, packetId);
            }
        }

        foreach (var (topic, _) in batch.Retained)
        {
            index.Put(index.Retained, topic, Next());
        }

        foreach (var topic in batch.RetainedDeleted)
        {
            Next();
            index.Delete(index.Retained, topic);
        }

        foreach (var ban in batch.Bans)
        {
            index.Put(index.Bans, (ban.Kind, ban.Value), Next());
        }

        foreach (var key in batch.BansDeleted)
        {
            Next();
            index.Delete(index.Bans, key);
        }

        foreach (var id in batch.MessagesDeleted)
        {
            Next();
            index.Delete(index.Messages, id);
        }
    }

    /// <summary>Writes <paramref name="frame"/> at the end of the active segment (a new one when it is full); returns where it starts.</summary>
    private long Append(ReadOnlySpan<byte> frame)
    {
        var segment = _segments[^1];
        if (segment.Length > SegmentHeaderSize && segment.Length + frame.Length > SegmentBytes)
        {
            segment = NewSegment();
        }

        var start = segment.Length;
        RandomAccess.Write(_active!, frame, start);
        segment.Length += frame.Length;
        Interlocked.Add(ref _size, frame.Length);
        if (_strict)
        {
            RandomAccess.FlushToDisk(_active!);
        }
        else
        {
            _unsynced = true;
        }

        return start;
    }

    /// <summary>Starts segment n+1. The full one is synced first: what compaction deletes must never be newer on disk than what replaced it.</summary>
    private LogSegment NewSegment()
    {
        var number = _segments.Count == 0 ? 1 : _segments[^1].Number + 1;
        if (_active is not null)
        {
            RandomAccess.FlushToDisk(_active);
            _active.Dispose();
            _active = null;
        }

        var segment = new LogSegment(number, SegmentPath(number));
        _active = File.OpenHandle(segment.Path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        Span<byte> header = stackalloc byte[SegmentHeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], number);
        RandomAccess.Write(_active, header, 0);
        RandomAccess.FlushToDisk(_active);
        SyncDirectory(Location);
        segment.Length = SegmentHeaderSize;
        _segments.Add(segment);
        _index.Segments[number] = segment;
        Interlocked.Add(ref _size, SegmentHeaderSize);
        _unsynced = false;
        return segment;
    }

    /// <summary>Opens the newest segment for appending, or starts the first.</summary>
    private void StartWriting()
    {
        if (_segments.Count == 0)
        {
            NewSegment();
            return;
        }

        var last = _segments[^1];
        _active = File.OpenHandle(last.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        if (TornBytes > 0)
        {
            // The torn frame goes, so that the next one follows the last whole frame.
            RandomAccess.SetLength(_active, last.Length);
            RandomAccess.FlushToDisk(_active);
        }
    }

    /// <summary>
    /// Deletes the oldest segments that hold nothing live; then, while the log is more than twice what
    /// is live (and past <see cref="CompactMinBytes"/>), copies the oldest segment's live records to
    /// the head and deletes it. Each batch copies at most four times what it wrote plus one segment:
    /// that frees at least what it wrote while the oldest segment is up to three quarters live, so
    /// compaction keeps pace with the writes, and a batch never waits long.
    /// </summary>
    private void Compact(long nowUnixMs, long written)
    {
        var budget = (4 * written) + SegmentBytes;
        while (_segments.Count > 1)
        {
            if (_segments[0].LiveRecords == 0)
            {
                DeleteOldest();
                continue;
            }

            if (budget <= 0 || Interlocked.Read(ref _size) <= Math.Max(CompactMinBytes, 2 * _index.LiveBytes))
            {
                return;
            }

            budget -= _segments[0].Length;
            CopyForward(_segments[0], nowUnixMs);
            DeleteOldest();
        }
    }

    private void DeleteOldest()
    {
        var oldest = _segments[0];
        _segments.RemoveAt(0);
        _index.Segments.Remove(oldest.Number);
        File.Delete(oldest.Path);
        Interlocked.Add(ref _size, -oldest.Length);
    }

    /// <summary>
    /// Appends the live records of <paramref name="segment"/> (the oldest) as one frame, synced before
    /// the segment goes. The index says which they are and where: they are copied as they are, and
    /// nothing is decoded (in a queue's log nearly every record is dead).
    /// </summary>
    private void CopyForward(LogSegment segment, long nowUnixMs)
    {
        var live = new List<(long Position, int Size, Action<long> Moved)>();
        var index = _index;
        void Collect<TKey>(Dictionary<TKey, LogLocation>? map)
            where TKey : notnull
        {
            if (map is null)
            {
                return;
            }

            foreach (var (key, location) in map)
            {
                if (location.Segment == segment.Number)
                {
                    live.Add((location.Position, location.Size, position => index.Moved(ref CollectionsMarshal.GetValueRefOrNullRef(map, key), position)));
                }
            }
        }

        Collect(index.Messages);
        Collect(index.Retained);
        Collect(index.Bans);
        foreach (var client in index.Clients.Values)
        {
            if (client.Session.Position != 0 && client.Session.Segment == segment.Number)
            {
                live.Add((client.Session.Position, client.Session.Size, position => index.Moved(ref client.Session, position)));
            }

            Collect(client.Subscriptions);
            Collect(client.Deliveries);
            Collect(client.Incoming);
        }

        if (live.Count > 0)
        {
            live.Sort(static (a, b) => a.Position.CompareTo(b.Position));
            var bytes = File.ReadAllBytes(segment.Path);
            var starts = new int[live.Count];
            _encoder.BeginFrame(nowUnixMs);
            for (var i = 0; i < live.Count; i++)
            {
                var offset = (int)(live[i].Position & 0xFFFFFFFF);
                if (offset + live[i].Size > bytes.Length || bytes[offset] is < (byte)LogRecordType.SessionPut or > (byte)LogRecordType.BanDelete)
                {
                    throw new StoreException($"Cannot compact the store {Location}: the index and {Path.GetFileName(segment.Path)} disagree at byte {offset}.");
                }

                starts[i] = _encoder.Length;
                _encoder.Raw(bytes.AsSpan(offset, live[i].Size));
            }

            var frameStart = Append(_encoder.EndFrame());
            var number = _segments[^1].Number;
            for (var i = 0; i < live.Count; i++)
            {
                live[i].Moved(LogLocation.PositionOf(number, frameStart + starts[i]));
            }

            Flush();
            _encoder.Trim();
        }
    }

    private static string? InTheWay(string directory)
    {
        if (File.Exists(directory))
        {
            return "it is a file, not a directory. Move it away, or set Persistence:Directory elsewhere";
        }

        for (var parent = Path.GetDirectoryName(directory); !string.IsNullOrEmpty(parent); parent = Path.GetDirectoryName(parent))
        {
            if (File.Exists(parent))
            {
                return $"{parent} is a file, not a directory. Move it away, or set Persistence:Directory elsewhere";
            }
        }

        return null;
    }

    private static StoreException InUse(string directory, bool tool, Exception ex) => new(
        tool
            ? $"Cannot use the store {directory}: it is in use by another process, most likely a running Tern broker. Stop the broker first: 'tern data' needs the store to itself."
            : $"Cannot use the store {directory}: it is in use by another process (another Tern on the same Persistence:Directory?). Stop that one, or give this broker its own Persistence:Directory.",
        ex);

    /// <summary>One message for a file system error: the store, the problem, what to do.</summary>
    internal static StoreException Explain(string directory, Exception ex)
    {
        var what = ex switch
        {
            UnauthorizedAccessException => ReadOnly,
            IOException io when (io.HResult & 0xFFFF) is 28 or 112 => "the disk is full. Free some space",
            IOException io when (io.HResult & 0xFFFF) is 30 => ReadOnly,
            _ => $"{ex.Message.TrimEnd('.')}. Check the directory, or set Persistence:Directory elsewhere",
        };
        return new StoreException($"Cannot use the store {directory}: {what}.", ex);
    }

    private string SegmentPath(int number) => Path.Combine(Location, number.ToString("D8", CultureInfo.InvariantCulture) + Extension);

    private static int SegmentNumber(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        return name.Length == 8 && int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    /// <summary>Makes a file created or deleted in <paramref name="directory"/> survive a loss of power (Unix; elsewhere the file system does it).</summary>
    private static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var fd = OpenDirectory(directory, 0);
        if (fd >= 0)
        {
            _ = FSync(fd);
            _ = Close(fd);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int OpenDirectory([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int FSync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Close(int fd);
}
