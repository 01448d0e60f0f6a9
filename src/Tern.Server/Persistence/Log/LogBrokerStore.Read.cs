using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Tern.Broker;
using Tern.Broker.Persistence;

namespace Tern.Server.Persistence.Log;

/// <summary>Reading the log: the segments at open (index and state), and a segment for compaction.</summary>
public sealed partial class LogBrokerStore
{
    private delegate void FrameAction(long frameStart, ReadOnlySpan<byte> payload);

    /// <summary>Reads every segment, oldest first, into the index and the state <see cref="Load"/> returns.</summary>
    /// <param name="problems">For a check: corruption is listed here (and the rest of that segment skipped) instead of thrown.</param>
    private void Read(List<string>? problems)
    {
        var files = Directory.EnumerateFiles(Location, "*" + Extension)
            .Select(path => (Number: SegmentNumber(path), Path: path))
            .Where(f => f.Number > 0)
            .OrderBy(f => f.Number)
            .ToList();
        var model = new LoadModel();
        long? lastWritten = null;
        for (var i = 0; i < files.Count; i++)
        {
            var (number, path) = files[i];
            var last = i == files.Count - 1;
            var bytes = File.ReadAllBytes(path);
            if (last && bytes.Length < SegmentHeaderSize && !bytes.AsSpan().ContainsAnyExcept((byte)0))
            {
                // Created by a broker killed before its header reached the disk: nothing was in it.
                if (!_tool)
                {
                    File.Delete(path);
                }

                TornBytes += bytes.Length;
                continue;
            }

            var segment = new LogSegment(number, path);
            _segments.Add(segment);
            _index.Segments[number] = segment;
            segment.Length = ForEachFrame(segment, bytes, last, problems, (frameStart, payload) =>
            {
                var decoder = new LogDecoder(payload);
                lastWritten = decoder.WrittenUnixMs;
                while (!decoder.End)
                {
                    var start = decoder.Position;
                    var record = ReadRecord(ref decoder);
                    var location = new LogLocation(LogLocation.PositionOf(number, frameStart + LogEncoder.HeaderSize + start), decoder.Position - start);
                    Apply(record, location, model);
                }
            });
            if (last)
            {
                TornBytes += bytes.Length - segment.Length;
            }

            _size += segment.Length;
        }

        _loaded = model.ToState(lastWritten);
    }

    /// <summary>
    /// Calls <paramref name="action"/> for each whole frame of <paramref name="segment"/> and returns
    /// where the last one ends. In the newest segment a frame cut short, or failing its checksum with
    /// nothing but zeros or the end of the file after it, is what a crash during a write leaves: it
    /// ends the segment. Anything else is corruption.
    /// </summary>
    private long ForEachFrame(LogSegment segment, byte[] bytes, bool last, List<string>? problems, FrameAction action)
    {
        var name = Path.GetFileName(segment.Path);
        if (bytes.Length < SegmentHeaderSize || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            var what = $"{name} is not a Tern log segment (its header is missing or wrong)";
            if (problems is null)
            {
                throw new StoreException($"Cannot use the store {Location}: {what}. Move it out of the directory, or restore a backup with 'tern data import --force'.");
            }

            problems.Add(what);
            return bytes.Length;
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (version != FormatVersion)
        {
            var message = $"Cannot use the store {Location}: {name} has format version {version} and this Tern reads version {FormatVersion}. Use the Tern that wrote it, or export the store with that one ('tern data export') and import it here.";
            throw new StoreException(message);
        }

        long offset = SegmentHeaderSize;
        while (offset < bytes.Length)
        {
            var rest = bytes.AsSpan((int)offset);
            if (rest.Length < LogEncoder.HeaderSize)
            {
                return Broken("a frame header is cut short", torn: true);
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(rest);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(rest[4..]);
            if (length > rest.Length - LogEncoder.HeaderSize)
            {
                return Broken("a frame runs past the end of the file", torn: true);
            }

            var payload = rest.Slice(LogEncoder.HeaderSize, (int)length);
            if (length < 8 || System.IO.Hashing.Crc32.HashToUInt32(payload) != crc)
            {
                var atEnd = LogEncoder.HeaderSize + length == rest.Length || !rest.ContainsAnyExcept((byte)0);
                return Broken("a frame fails its checksum", torn: atEnd);
            }

            try
            {
                action(offset, payload);
            }
            catch (FormatException ex)
            {
                return Broken($"a record cannot be read: {ex.Message}", torn: false);
            }

            offset += LogEncoder.HeaderSize + length;
        }

        return offset;

        long Broken(string reason, bool torn)
        {
            if (last && torn)
            {
                return offset;
            }

            Corrupt(reason, offset);
            return offset;
        }

        void Corrupt(string reason, long at)
        {
            if (problems is not null)
            {
                problems.Add($"{name} is corrupt: {reason} at byte {at}; the rest of it cannot be read");
                return;
            }

            throw new StoreException(
                $"Cannot use the store {Location}: {name} is corrupt ({reason} at byte {at}). 'tern data check' lists what can be read; "
                + "restore a backup with 'tern data import --force', or move the directory away to start with an empty store.");
        }
    }

    /// <summary>One record, decoded: its key and, for a put, its value.</summary>
    private readonly record struct Record(LogRecordType Type, string? Client, string? Name, long Number, BanKind Kind, object? Value);

    private Record ReadRecord(ref LogDecoder d)
    {
        var type = d.Type();
        switch (type)
        {
            case LogRecordType.Reset:
                return new Record(type, null, null, 0, default, null);
            case LogRecordType.SessionPut:
            {
                var client = Intern(d.String());
                return new Record(type, client, null, 0, default, d.Session(client));
            }

            case LogRecordType.SessionDelete:
                return new Record(type, d.String(), null, 0, default, null);
            case LogRecordType.SubscriptionPut:
            {
                var client = Intern(d.String());
                var filter = d.String();
                return new Record(type, client, filter, 0, default, d.Subscription(client, filter));
            }

            case LogRecordType.SubscriptionDelete:
                return new Record(type, d.String(), d.String(), 0, default, null);
            case LogRecordType.MessagePut:
            {
                var id = d.VarInt();
                return new Record(type, null, null, id, default, d.Message(id));
            }

            case LogRecordType.MessageDelete:
                return new Record(type, null, null, d.VarInt(), default, null);
            case LogRecordType.DeliveryPut:
            {
                var client = Intern(d.String());
                var sequence = d.VarInt();
                return new Record(type, client, null, sequence, default, d.Delivery(client, sequence));
            }

            case LogRecordType.DeliveryDelete:
                return new Record(type, d.String(), null, d.VarInt(), default, null);
            case LogRecordType.IncomingPut:
            case LogRecordType.IncomingDelete:
                return new Record(type, Intern(d.String()), null, d.PacketId(), default, null);
            case LogRecordType.RetainedPut:
            {
                var topic = d.String();
                return new Record(type, null, topic, d.VarInt(), default, null);
            }

            case LogRecordType.RetainedDelete:
                return new Record(type, null, d.String(), 0, default, null);
            case LogRecordType.BanPut:
            {
                var kind = d.BanKind();
                var value = d.String();
                return new Record(type, null, value, 0, kind, d.Ban(kind, value));
            }

            case LogRecordType.BanDelete:
            {
                var kind = d.BanKind();
                return new Record(type, null, d.String(), 0, kind, null);
            }

            default:
                throw new FormatException($"unknown record type {(int)type}");
        }
    }

    /// <summary>A record read at open: into the index, and into the state the broker restores.</summary>
    private void Apply(Record r, LogLocation location, LoadModel model)
    {
        var index = _index;
        switch (r.Type)
        {
            case LogRecordType.Reset:
                index.Reset();
                model.Clear();
                break;
            case LogRecordType.SessionPut:
                index.PutSession(r.Client!, location);
                model.Client(r.Client!).Session = (StoredSession)r.Value!;
                break;
            case LogRecordType.SessionDelete:
                index.DeleteClient(r.Client!);
                model.Clients.Remove(r.Client!);
                break;
            case LogRecordType.SubscriptionPut:
                index.Put(LogIndex.Of(ref index.Client(r.Client!).Subscriptions, StringComparer.Ordinal), r.Name!, location);
                (model.Client(r.Client!).Subscriptions ??= new(StringComparer.Ordinal))[r.Name!] = (StoredSubscription)r.Value!;
                break;
            case LogRecordType.SubscriptionDelete:
                if (index.Clients.TryGetValue(r.Client!, out var c1))
                {
                    index.Delete(c1.Subscriptions, r.Name!);
                }

                if (model.Clients.TryGetValue(r.Client!, out var m1))
                {
                    m1.Subscriptions?.Remove(r.Name!);
                }

                break;
            case LogRecordType.MessagePut:
                index.Put(index.Messages, r.Number, location);
                model.Messages[r.Number] = (StoredMessage)r.Value!;
                break;
            case LogRecordType.MessageDelete:
                index.Delete(index.Messages, r.Number);
                model.Messages.Remove(r.Number);
                break;
            case LogRecordType.DeliveryPut:
                index.Put(LogIndex.Of(ref index.Client(r.Client!).Deliveries), r.Number, location);
                (model.Client(r.Client!).Deliveries ??= [])[r.Number] = (StoredDelivery)r.Value!;
                break;
            case LogRecordType.DeliveryDelete:
                if (index.Clients.TryGetValue(r.Client!, out var c2))
                {
                    index.Delete(c2.Deliveries, r.Number);
                }

                if (model.Clients.TryGetValue(r.Client!, out var m2))
                {
                    m2.Deliveries?.Remove(r.Number);
                }

                break;
            case LogRecordType.IncomingPut:
                index.Put(LogIndex.Of(ref index.Client(r.Client!).Incoming), (ushort)r.Number, location);
                (model.Client(r.Client!).Incoming ??= []).Add((ushort)r.Number);
                break;
            case LogRecordType.IncomingDelete:
                if (index.Clients.TryGetValue(r.Client!, out var c3))
                {
                    index.Delete(c3.Incoming, (ushort)r.Number);
                }

                if (model.Clients.TryGetValue(r.Client!, out var m3))
                {
                    m3.Incoming?.Remove((ushort)r.Number);
                }

                break;
            case LogRecordType.RetainedPut:
                index.Put(index.Retained, r.Name!, location);
                model.Retained[r.Name!] = r.Number;
                break;
            case LogRecordType.RetainedDelete:
                index.Delete(index.Retained, r.Name!);
                model.Retained.Remove(r.Name!);
                break;
            case LogRecordType.BanPut:
                index.Put(index.Bans, (r.Kind, r.Name!), location);
                model.Bans[(r.Kind, r.Name!)] = (Ban)r.Value!;
                break;
            case LogRecordType.BanDelete:
                index.Delete(index.Bans, (r.Kind, r.Name!));
                model.Bans.Remove((r.Kind, r.Name!));
                break;
        }
    }

    /// <summary>Client ids repeat in every record of a session: while reading, they share the index's instance.</summary>
    private string Intern(string clientId)
        => _index.Clients.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(clientId, out var key, out _) ? key : clientId;

    /// <summary>The state the records describe, built while reading.</summary>
    private sealed class LoadModel
    {
        public Dictionary<long, StoredMessage> Messages { get; } = [];

        public Dictionary<string, ClientModel> Clients { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> Retained { get; } = new(StringComparer.Ordinal);

        public Dictionary<(BanKind, string), Ban> Bans { get; } = [];

        public ClientModel Client(string clientId)
        {
            ref var client = ref CollectionsMarshal.GetValueRefOrAddDefault(Clients, clientId, out _);
            return client ??= new ClientModel();
        }

        public void Clear()
        {
            Messages.Clear();
            Clients.Clear();
            Retained.Clear();
            Bans.Clear();
        }

        public StoredState ToState(long? lastWritten)
        {
            var state = new StoredState { LastWrittenUnixMs = lastWritten };
            state.Messages.AddRange(Messages.Values);
            foreach (var (clientId, client) in Clients)
            {
                if (client.Session is { } session)
                {
                    state.Sessions.Add(session);
                }

                if (client.Subscriptions is { } subscriptions)
                {
                    state.Subscriptions.AddRange(subscriptions.Values);
                }

                if (client.Deliveries is { Count: > 0 } deliveries)
                {
                    var ordered = deliveries.Values.ToArray();
                    Array.Sort(ordered, static (a, b) => a.Sequence.CompareTo(b.Sequence));
                    state.Deliveries.AddRange(ordered);
                }

                if (client.Incoming is { } incoming)
                {
                    foreach (var packetId in incoming)
                    {
                        state.IncomingQoS2.Add((clientId, packetId));
                    }
                }
            }

            foreach (var (topic, id) in Retained)
            {
                state.Retained.Add((topic, id));
            }

            state.Bans.AddRange(Bans.Values);
            return state;
        }
    }

    private sealed class ClientModel
    {
        public StoredSession? Session { get; set; }

        public Dictionary<string, StoredSubscription>? Subscriptions { get; set; }

        public Dictionary<long, StoredDelivery>? Deliveries { get; set; }

        public HashSet<ushort>? Incoming { get; set; }
    }
}
