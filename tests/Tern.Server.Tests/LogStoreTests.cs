using System.Globalization;
using Tern.Broker;
using Tern.Broker.Persistence;
using Tern.Protocol;
using Tern.Server.Persistence.Log;
using Xunit.Abstractions;

namespace Tern.Server.Tests;

/// <summary>
/// The log store against a model: random batches of every kind of change (seeded; TERN_LOG_SEED
/// replays one), with segments small enough that rotation, deleting dead segments and copying live
/// records forward happen all the time; reopened every few batches, it must load exactly what the
/// model holds, and its size must stay within twice what is live plus the compaction threshold.
/// </summary>
public sealed class LogStoreTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-log-store-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Random_batches_load_back_as_the_model_holds_them_across_reopens_and_compaction()
    {
        var seeds = Environment.GetEnvironmentVariable("TERN_LOG_SEED") is { } fixedSeed
            ? [int.Parse(fixedSeed, CultureInfo.InvariantCulture)]
            : Enumerable.Range(0, 6).Select(_ => Random.Shared.Next()).ToArray();
        foreach (var seed in seeds)
        {
            var directory = Path.Combine(_directory, seed.ToString(CultureInfo.InvariantCulture));
            try
            {
                Run(seed, directory);
            }
            catch (Exception ex)
            {
                throw new InvalidOperationException($"Failed with seed {seed} (replay: TERN_LOG_SEED={seed}): {ex.Message}", ex);
            }

            output.WriteLine($"seed {seed}: ok");
        }
    }

    [Fact]
    public void A_frame_torn_at_any_byte_at_the_end_of_the_newest_segment_is_cut_off_and_the_rest_loads()
    {
        var random = new Random(7);
        var model = new Model();

        // Default sizes: no rotation or compaction frame after the last batch's.
        var store = LogBrokerStore.Open(_directory, strict: false);
        for (var i = 0; i < 20; i++)
        {
            var batch = model.RandomBatch(random);
            store.Write(batch);
        }

        var before = Describe(model.State());
        var last = model.RandomBatch(random);
        store.Write(last);
        store.Dispose();

        var segment = Directory.GetFiles(_directory, "*.log").Order(StringComparer.Ordinal).Last();
        var whole = File.ReadAllBytes(segment);
        var frame = FrameLength(last);
        for (var cut = 1; cut < frame; cut += Math.Max(1, frame / 40))
        {
            File.WriteAllBytes(segment, whole.AsSpan(0, whole.Length - cut).ToArray());
            using var reopened = LogBrokerStore.Open(_directory, strict: false);
            Assert.Equal(frame - cut, reopened.TornBytes);
            Assert.Equal(before, Describe(reopened.Load()));

            // The next frame follows the last whole one.
            Assert.Equal(whole.Length - frame, new FileInfo(segment).Length);
        }
    }

    [Fact]
    public void A_bad_byte_before_the_last_frame_stops_the_opening_and_names_the_segment()
    {
        var random = new Random(11);
        var model = new Model();
        using (var store = LogBrokerStore.Open(_directory, strict: false))
        {
            for (var i = 0; i < 30; i++)
            {
                store.Write(model.RandomBatch(random));
            }
        }

        var segment = Directory.GetFiles(_directory, "*.log").Order(StringComparer.Ordinal).First();
        var bytes = File.ReadAllBytes(segment);
        bytes[bytes.Length / 3] ^= 0x40;
        File.WriteAllBytes(segment, bytes);

        var ex = Assert.Throws<StoreException>(() => LogBrokerStore.Open(_directory, strict: false).Dispose());
        Assert.StartsWith($"Cannot use the store {_directory}: {Path.GetFileName(segment)} is corrupt (a frame fails its checksum at byte ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("or move the directory away to start with an empty store.", ex.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(segment));
    }

    [Fact]
    public void A_queue_that_is_filled_and_drained_keeps_the_log_small()
    {
        using var store = LogBrokerStore.Open(_directory, strict: false);
        store.SegmentBytes = 64 * 1024;
        store.CompactMinBytes = 256 * 1024;
        var payload = new byte[100];
        long id = 0;
        for (var round = 0; round < 200; round++)
        {
            var batch = new StoreBatch { WrittenUnixMs = 1000 + round };
            if (round == 0)
            {
                batch.Sessions.Add(new StoredSession("queue", 3600, 1, null, null, null, null, null));
            }

            for (var i = 0; i < 50; i++)
            {
                id++;
                batch.MessagesInserted.Add(new StoredMessage(id, "q/t", payload, MqttQoS.AtLeastOnce, false, null, "p", 1));
                batch.Deliveries.Add(new StoredDelivery("queue", id, id, MqttQoS.AtLeastOnce, false, null, null, 0, false));
            }

            store.Write(batch);
            var drain = new StoreBatch { WrittenUnixMs = 1000 + round };
            for (var i = id - 49; i <= id; i++)
            {
                drain.DeliveriesDeleted.Add(("queue", i));
                drain.MessagesDeleted.Add(i);
            }

            store.Write(drain);
        }

        // 10,000 messages of 100 bytes went through (1.7 MB of log); what is left is the session and the segments it is in.
        Assert.True(store.LiveBytes < 100, $"{store.LiveBytes} bytes live");
        Assert.True(store.SizeBytes <= store.CompactMinBytes + (2 * store.SegmentBytes), $"size {store.SizeBytes} in {store.SegmentPaths.Count} segments");
    }

    private static void Run(int seed, string directory)
    {
        var random = new Random(seed);
        var model = new Model();
        var store = Open(directory);
        try
        {
            long largest = 0;
            for (var i = 0; i < 400; i++)
            {
                var before = store.SizeBytes;
                store.Write(model.RandomBatch(random));

                // Over the bound by at most a few segments or frames: compaction keeps pace, a segment at a time.
                largest = Math.Max(largest, store.SizeBytes - before);
                Assert.True(
                    store.SizeBytes <= Math.Max(store.CompactMinBytes, 2 * store.LiveBytes) + (4 * Math.Max(store.SegmentBytes, largest)),
                    $"batch {i}: size {store.SizeBytes} with {store.LiveBytes} live");
                if (random.Next(25) == 0 || i == 399)
                {
                    store.Dispose();
                    store = Open(directory);
                    Assert.Equal(Describe(model.State()), Describe(store.Load()));
                }
            }
        }
        finally
        {
            store.Dispose();
        }
    }

    private static LogBrokerStore Open(string directory)
    {
        var store = LogBrokerStore.Open(directory, strict: false);
        store.SegmentBytes = 4096;
        store.CompactMinBytes = 16 * 1024;
        return store;
    }

    private static int FrameLength(StoreBatch batch)
    {
        var probe = Directory.CreateTempSubdirectory("tern-log-frame-").FullName;
        try
        {
            using var store = LogBrokerStore.Open(probe, strict: false);
            var before = store.SizeBytes;
            store.Write(batch);
            return (int)(store.SizeBytes - before);
        }
        finally
        {
            Directory.Delete(probe, recursive: true);
        }
    }

    /// <summary>A state as sorted lines, one per record, every field spelled out.</summary>
    private static string Describe(StoredState s)
    {
        var lines = new List<string>();
        lines.AddRange(s.Messages.Select(m => $"message {m.Id} {m.Topic} {Convert.ToHexString(m.Payload.Span)} {m.QoS} {m.Retain} {Hex(m.Properties)} {m.PublisherClientId} {m.CreatedUnixMs}"));
        lines.AddRange(s.Sessions.Select(x => $"session {x.ClientId} {x.ExpiryInterval} {x.DisconnectedUnixMs} {(x.Will is { } w ? $"{w.Topic} {Convert.ToHexString(w.Payload.Span)} {w.QoS} {w.Retain} {Hex(w.Properties)}" : "-")} {x.WillDueUnixMs} {x.Username} {x.Address} {x.Listener}"));
        lines.AddRange(s.Subscriptions.Select(x => $"sub {x.ClientId} {x.Filter} {x.Options} {x.SubscriptionIdentifier}"));
        lines.AddRange(s.Deliveries.Select(d => $"delivery {d.ClientId} {d.Sequence:D12} {d.MessageId} {d.QoS} {d.Retain} {(d.SubscriptionIdentifiers is { } ids ? string.Join(',', ids) : "-")} {d.SharedFilter} {d.PacketId} {d.Released}"));
        lines.AddRange(s.IncomingQoS2.Select(i => $"incoming {i.ClientId} {i.PacketId}"));
        lines.AddRange(s.Retained.Select(r => $"retained {r.Topic} {r.MessageId}"));
        lines.AddRange(s.Bans.Select(b => $"ban {b.Kind} {b.Value} {b.Until?.ToUnixTimeMilliseconds()} {b.Reason}"));
        lines.Sort(StringComparer.Ordinal);

        // Deliveries must also come in sequence order within each session, as the broker restores them.
        var order = s.Deliveries.GroupBy(d => d.ClientId).All(g => g.Select(d => d.Sequence).SequenceEqual(g.Select(d => d.Sequence).Order()));
        return (order ? "" : "DELIVERIES OUT OF ORDER\n") + string.Join('\n', lines);
    }

    private static string Hex(byte[]? bytes) => bytes is null ? "-" : Convert.ToHexString(bytes);

    /// <summary>What the store must hold: StoreBatch's changes applied in its documented order.</summary>
    private sealed class Model
    {
        private static readonly string[] Clients = ["c1", "c2", "client/ü", "c4", new string('x', 200)];

        private readonly Dictionary<long, StoredMessage> _messages = [];
        private readonly Dictionary<string, StoredSession> _sessions = new(StringComparer.Ordinal);
        private readonly Dictionary<(string, string), StoredSubscription> _subscriptions = [];
        private readonly Dictionary<(string, long), StoredDelivery> _deliveries = [];
        private readonly HashSet<(string, ushort)> _incoming = [];
        private readonly Dictionary<string, long> _retained = new(StringComparer.Ordinal);
        private readonly Dictionary<(BanKind, string), Ban> _bans = [];
        private long _nextId;
        private long _nextSequence;
        private long _time = 1_700_000_000_000;

        public StoreBatch RandomBatch(Random r)
        {
            var batch = new StoreBatch { WrittenUnixMs = _time += r.Next(1, 1000) };
            var changes = r.Next(1, 40);
            for (var i = 0; i < changes; i++)
            {
                var client = Clients[r.Next(Clients.Length)];
                switch (r.Next(14))
                {
                    case 0:
                        if (r.Next(4) == 0)
                        {
                            batch.SessionsDeleted.Add(client);
                        }

                        break;
                    case 1:
                        batch.Sessions.Add(new StoredSession(
                            client,
                            (uint)r.Next(),
                            r.Next(2) == 0 ? null : _time - r.Next(10_000),
                            r.Next(3) == 0 ? new StoredWill("will/" + client, Bytes(r, 20), (MqttQoS)r.Next(3), r.Next(2) == 0, r.Next(2) == 0 ? null : Bytes(r, 5)) : null,
                            r.Next(2) == 0 ? null : _time + r.Next(10_000),
                            r.Next(2) == 0 ? null : "user",
                            "127.0.0.1",
                            r.Next(2) == 0 ? null : "tcp"));
                        break;
                    case 2:
                        batch.Subscriptions.Add(new StoredSubscription(client, $"f/{r.Next(5)}/#", new SubscriptionOptions((MqttQoS)r.Next(3), r.Next(2) == 0, r.Next(2) == 0, (byte)r.Next(3)), r.Next(2) == 0 ? null : (uint)r.Next(1, 1000)));
                        break;
                    case 3:
                        batch.SubscriptionsDeleted.Add((client, $"f/{r.Next(5)}/#"));
                        break;
                    case 4:
                    case 5:
                        batch.MessagesInserted.Add(new StoredMessage(++_nextId, $"t/{r.Next(100)}", Bytes(r, r.Next(3) == 0 ? 3000 : 60), (MqttQoS)r.Next(3), r.Next(2) == 0, r.Next(2) == 0 ? null : Bytes(r, 8), r.Next(2) == 0 ? null : client, _time));
                        break;
                    case 6:
                    case 7:
                        batch.Deliveries.Add(new StoredDelivery(client, _deliveries.Count > 0 && r.Next(3) == 0 ? _deliveries.Keys.ElementAt(r.Next(_deliveries.Count)).Item2 : ++_nextSequence, Math.Max(1, _nextId - r.Next(5)), (MqttQoS)r.Next(3), r.Next(2) == 0, r.Next(2) == 0 ? null : [(uint)r.Next(1, 9), 3], r.Next(4) == 0 ? "$share/g/f" : null, (ushort)r.Next(65536), r.Next(2) == 0));
                        break;
                    case 8:
                        if (_deliveries.Count > 0)
                        {
                            var (c, sequence) = _deliveries.Keys.ElementAt(r.Next(_deliveries.Count));
                            batch.DeliveriesDeleted.Add((c, sequence));
                        }

                        break;
                    case 9:
                        (r.Next(2) == 0 ? batch.IncomingQoS2 : batch.IncomingQoS2Deleted).Add((client, (ushort)r.Next(1, 20)));
                        break;
                    case 10:
                        if (r.Next(3) == 0)
                        {
                            batch.RetainedDeleted.Add($"t/{r.Next(20)}");
                        }
                        else
                        {
                            batch.Retained.Add(($"t/{r.Next(20)}", Math.Max(1, _nextId)));
                        }

                        break;
                    case 11:
                        if (r.Next(2) == 0)
                        {
                            batch.Bans.Add(new Ban((BanKind)r.Next(3), $"v{r.Next(5)}", r.Next(2) == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(_time + 60_000), "why"));
                        }
                        else
                        {
                            batch.BansDeleted.Add(((BanKind)r.Next(3), $"v{r.Next(5)}"));
                        }

                        break;
                    default:
                        if (_messages.Count > 0)
                        {
                            batch.MessagesDeleted.Add(_messages.Keys.ElementAt(r.Next(_messages.Count)));
                        }

                        break;
                }
            }

            Apply(batch);
            return batch;
        }

        public StoredState State()
        {
            var state = new StoredState();
            state.Messages.AddRange(_messages.Values);
            state.Sessions.AddRange(_sessions.Values);
            state.Subscriptions.AddRange(_subscriptions.Values);
            state.Deliveries.AddRange(_deliveries.Values.OrderBy(d => d.ClientId, StringComparer.Ordinal).ThenBy(d => d.Sequence));
            state.IncomingQoS2.AddRange(_incoming);
            state.Retained.AddRange(_retained.Select(r => (r.Key, r.Value)));
            state.Bans.AddRange(_bans.Values);
            return state;
        }

        private void Apply(StoreBatch b)
        {
            foreach (var c in b.SessionsDeleted)
            {
                _sessions.Remove(c);
                Remove(_subscriptions, k => k.Item1 == c);
                Remove(_deliveries, k => k.Item1 == c);
                _incoming.RemoveWhere(k => k.Item1 == c);
            }

            foreach (var s in b.Sessions)
            {
                _sessions[s.ClientId] = s;
            }

            foreach (var s in b.Subscriptions)
            {
                _subscriptions[(s.ClientId, s.Filter)] = s;
            }

            foreach (var k in b.SubscriptionsDeleted)
            {
                _subscriptions.Remove(k);
            }

            foreach (var m in b.MessagesInserted)
            {
                _messages[m.Id] = m;
            }

            foreach (var d in b.Deliveries)
            {
                _deliveries[(d.ClientId, d.Sequence)] = d;
            }

            foreach (var k in b.DeliveriesDeleted)
            {
                _deliveries.Remove(k);
            }

            foreach (var k in b.IncomingQoS2)
            {
                _incoming.Add(k);
            }

            foreach (var k in b.IncomingQoS2Deleted)
            {
                _incoming.Remove(k);
            }

            foreach (var (topic, id) in b.Retained)
            {
                _retained[topic] = id;
            }

            foreach (var topic in b.RetainedDeleted)
            {
                _retained.Remove(topic);
            }

            foreach (var ban in b.Bans)
            {
                _bans[(ban.Kind, ban.Value)] = ban;
            }

            foreach (var k in b.BansDeleted)
            {
                _bans.Remove(k);
            }

            foreach (var id in b.MessagesDeleted)
            {
                _messages.Remove(id);
            }
        }

        private static void Remove<TKey, TValue>(Dictionary<TKey, TValue> map, Func<TKey, bool> which)
            where TKey : notnull
        {
            foreach (var key in map.Keys.Where(which).ToList())
            {
                map.Remove(key);
            }
        }

        private static byte[] Bytes(Random r, int length)
        {
            var bytes = new byte[length];
            r.NextBytes(bytes);
            return bytes;
        }
    }
}
