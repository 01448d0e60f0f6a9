using System.Buffers.Binary;
using System.Text;
using BenchmarkDotNet.Attributes;
using RocksDbSharp;
using Tern.Broker.Persistence;
using Tern.Protocol;
using Tern.Server.Persistence;
using Tern.Server.Persistence.Log;

namespace Tern.Benchmarks;

/// <summary>
/// The store engines on the write path of persistent QoS 1 sessions with nothing coalesced (the
/// worst case): batch n stores 1,000 messages and their deliveries to 100 sessions, batch n+1
/// deletes them. Per operation: one batch pair, i.e. 1,000 messages in and out (4,000 rows).
/// Durable settings (no fsync per batch), on the benchmark's temporary directory. RocksDB is
/// measured with the same keys and values a store of it would write (WriteBatch, WAL on, no sync);
/// it is a candidate, not an engine Tern ships.
/// </summary>
[MemoryDiagnoser]
public class StoreEngineBenchmarks
{
    private const int Messages = 1_000;

    private readonly byte[] _payload = new byte[64];
    private string _directory = "";
    private IBrokerStore? _store;
    private RocksDb? _rocks;
    private WriteOptions? _rocksWrite;
    private long _id;

    [Params("log", "sqlite", "rocksdb")]
    public string Engine { get; set; } = "log";

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("tern-engine-bench-").FullName;
        switch (Engine)
        {
            case "log":
                _store = LogBrokerStore.Open(_directory, strict: false);
                break;
            case "sqlite":
                _store = SqliteBrokerStore.Open(Path.Combine(_directory, "tern.db"), strict: false);
                break;
            default:
                _rocks = RocksDb.Open(new DbOptions().SetCreateIfMissing(true), _directory);
                _rocksWrite = new WriteOptions().SetSync(false);
                break;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store?.Dispose();
        _rocks?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>1,000 messages stored for their sessions, then acknowledged and deleted.</summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public void StoreAndDelete()
    {
        var insert = new StoreBatch { WrittenUnixMs = 1 };
        var delete = new StoreBatch { WrittenUnixMs = 2 };
        for (var i = 0; i < Messages; i++)
        {
            var id = ++_id;
            var client = Sessions[i % Sessions.Length];
            insert.MessagesInserted.Add(new StoredMessage(id, Topics[i % Topics.Length], _payload, MqttQoS.AtLeastOnce, false, null, Publishers[i % Publishers.Length], 1));
            insert.Deliveries.Add(new StoredDelivery(client, id, id, MqttQoS.AtLeastOnce, false, null, null, (ushort)((id % 65535) + 1), false));
            delete.DeliveriesDeleted.Add((client, id));
            delete.MessagesDeleted.Add(id);
        }

        if (_store is not null)
        {
            _store.Write(insert);
            _store.Write(delete);
        }
        else
        {
            RocksWrite(insert);
            RocksWrite(delete);
        }
    }

    private static readonly string[] Sessions = Enumerable.Range(0, 100).Select(i => $"bench-sub-{i}").ToArray();
    private static readonly string[] Publishers = Enumerable.Range(0, 100).Select(i => $"bench-pub-{i}").ToArray();
    private static readonly string[] Topics = Enumerable.Range(0, 100).Select(i => $"bench/{i}").ToArray();

    /// <summary>The batch as a RocksDB store would write it: one WriteBatch, keys prefixed by kind.</summary>
    private void RocksWrite(StoreBatch batch)
    {
        using var writeBatch = new WriteBatch();
        Span<byte> key = stackalloc byte[256];
        var value = new byte[512];
        foreach (var m in batch.MessagesInserted)
        {
            key[0] = (byte)'m';
            BinaryPrimitives.WriteInt64BigEndian(key[1..], m.Id);
            var n = Encoding.UTF8.GetBytes(m.Topic, value);
            value[n++] = 0;
            m.Payload.Span.CopyTo(value.AsSpan(n));
            n += m.Payload.Length;
            n += Encoding.UTF8.GetBytes(m.PublisherClientId!, value.AsSpan(n));
            BinaryPrimitives.WriteInt64LittleEndian(value.AsSpan(n), m.CreatedUnixMs);
            writeBatch.Put(key[..9], value.AsSpan(0, n + 10));
        }

        foreach (var d in batch.Deliveries)
        {
            var k = DeliveryKey(key, d.ClientId, d.Sequence);
            BinaryPrimitives.WriteInt64LittleEndian(value, d.MessageId);
            value[8] = (byte)d.QoS;
            BinaryPrimitives.WriteUInt16LittleEndian(value.AsSpan(9), d.PacketId);
            writeBatch.Put(key[..k], value.AsSpan(0, 12));
        }

        foreach (var (client, sequence) in batch.DeliveriesDeleted)
        {
            writeBatch.Delete(key[..DeliveryKey(key, client, sequence)]);
        }

        foreach (var id in batch.MessagesDeleted)
        {
            key[0] = (byte)'m';
            BinaryPrimitives.WriteInt64BigEndian(key[1..], id);
            writeBatch.Delete(key[..9]);
        }

        _rocks!.Write(writeBatch, _rocksWrite);
    }

    private static int DeliveryKey(Span<byte> key, string client, long sequence)
    {
        key[0] = (byte)'d';
        var n = 1 + Encoding.UTF8.GetBytes(client, key[1..]);
        key[n++] = 0;
        BinaryPrimitives.WriteInt64BigEndian(key[n..], sequence);
        return n + 8;
    }
}
