using System.Globalization;
using Tern.Protocol;

namespace Tern.Broker.Tests.Model;

/// <summary>What an actor subscribes to: plain filters, or one shared subscription.</summary>
internal enum ActorRole
{
    Plain,
    Shared,
}

/// <summary>
/// One client id driven by its own seeded <see cref="Random"/>: connects (clean or persistent, 3.1.1
/// or 5.0), takes its own session over, aborts, disconnects, subscribes, unsubscribes, publishes
/// bursts at QoS 0/1/2, and holds its acknowledgements for a while. Operations of one actor run one
/// after the other; actors run at the same time. Packets are handled in ModelActor.Packets.cs.
/// </summary>
internal sealed partial class ModelActor
{
    private const long Never = long.MaxValue;

    private readonly ModelContext _context;
    private readonly Random _rng;
    private readonly bool _prefersPersistent;
    private readonly List<string> _subscribed = [];
    private ModelLink? _current;
    private Epoch? _epoch;
    private int _seq;
    private int _holdOps;
    private int _lastPacketId;

    public ModelActor(ModelContext context, int index, ActorRole role, string? sharedFilter, bool prefersPersistent, int seed)
    {
        _context = context;
        Index = index;
        Role = role;
        SharedFilter = sharedFilter;
        _prefersPersistent = prefersPersistent;
        _rng = new Random(seed);
        ClientId = string.Create(CultureInfo.InvariantCulture, $"model-{index}");
    }

    /// <summary>Also the publisher number in the payloads (fences use 0).</summary>
    public int Index { get; }

    public string ClientId { get; }

    public ActorRole Role { get; }

    /// <summary>The one shared subscription of a shared-role actor.</summary>
    public string? SharedFilter { get; }

    private ModelState Model => _context.Model;

    /// <summary>Runs <paramref name="operations"/> random operations.</summary>
    public async Task RunAsync(int operations)
    {
        for (var i = 0; i < operations; i++)
        {
            await StepAsync();
            if (_rng.Next(4) == 0)
            {
                // Pacing only: lets the other actors' operations interleave with this one's.
                await Task.Delay(_rng.Next(0, 3));
            }
        }
    }

    private async Task StepAsync()
    {
        if (_holdOps > 0 && --_holdOps == 0)
        {
            await ReleaseAcksAsync();
        }

        var link = _current;
        if (link is null || !link.IsOpen)
        {
            await ConnectAsync(takeover: false);
            return;
        }

        var r = _rng.Next(100);
        if (r is >= 59 and < 80 && !MayDisconnect)
        {
            r = 0;
        }

        switch (r)
        {
            case < 32: await PublishAsync(link); break;
            case < 46: await SubscribeAsync(link); break;
            case < 54: await UnsubscribeAsync(link); break;
            case < 59: Hold(link); break;
            case < 64: await DisconnectAsync(link); break;
            case < 70: await AbortAsync(link); break;
            case < 76: await ConnectAsync(takeover: true); break;
            case < 80: await SendThenAbortAsync(link); break;
            default: await Task.Delay(_rng.Next(1, 4)); break;
        }
    }

    /// <summary>Before the random phase: connected, and a shared member in its group.</summary>
    public async Task SetUpAsync()
    {
        await ConnectAsync(takeover: false);
        if (Role == ActorRole.Shared && _current is { IsOpen: true } link)
        {
            await SubscribeAsync(link, SharedFilter, SharedQoS());
        }
    }

    // ---- connect -----------------------------------------------------------------------------

    private async Task ConnectAsync(bool takeover, bool forceResume = false)
    {
        var version = _rng.Next(2) == 0 ? MqttProtocolVersion.V311 : MqttProtocolVersion.V500;
        // Shared members always keep a stored session: the broker then ends one only on a clean
        // start, at a moment the model knows, which the shared-subscription checks rely on.
        var persistent = forceResume || Role == ActorRole.Shared || (_prefersPersistent ? _rng.Next(100) < 90 : _rng.Next(100) < 10);
        bool cleanStart;
        if (version == MqttProtocolVersion.V311)
        {
            // 3.1.1 has one flag: clean session 1 is a session that ends with the connection.
            cleanStart = !persistent;
        }
        else
        {
            cleanStart = !forceResume && _rng.Next(100) < (persistent ? 8 : 50);
        }

        ushort? receiveMaximum = _context.Exercises(KnownFailures.ReceiveMaximum) && version == MqttProtocolVersion.V500 && _rng.Next(3) == 0 ? (ushort)_rng.Next(1, 6) : null;
        var old = _current;
        bool? expect;
        lock (Model.Sync)
        {
            // [MQTT-3.2.2-1] clean start: 0. A stored session: 1 [MQTT-3.2.2-2]. A session that ends
            // with its connection, taken over while that connection is open: the specification does
            // not say whether it is resumed, so either answer is accepted (and followed).
            expect = cleanStart || _epoch is not { Alive: true } ? false
                : _epoch.Persistent ? true
                : null;
        }

        var intent = new ConnectIntent(cleanStart, persistent, expect, receiveMaximum);
        ModelConnection connection;
        try
        {
            connection = await ModelConnection.OpenAsync(_context.Port, version, ModelTimeouts.Reply);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            Model.Violation($"{ClientId}: could not open a TCP connection: {e.Message}");
            return;
        }

        var link = new ModelLink(connection, intent, Model.Next()) { Previous = old?.Connection.Closed ?? Task.CompletedTask };
        connection.OnPacket = (c, p) => OnPacketAsync(link, p);
        _ = connection.Closed.ContinueWith(_ => OnClosed(link), TaskScheduler.Default);
        connection.Start();
        if (takeover && old is not null)
        {
            old.ExpectClose = true;
        }

        lock (Model.Sync)
        {
            _current = link;
        }

        var properties = version == MqttProtocolVersion.V500
            ? new MqttProperties { SessionExpiryInterval = persistent ? 3600u : null, ReceiveMaximum = receiveMaximum }
            : null;
        Trace($"{(takeover ? "takeover" : "connect")} #{link.Id} v{(version == MqttProtocolVersion.V500 ? 5 : 3)} {(cleanStart ? "clean" : "resume")} {(persistent ? "persistent" : "transient")}"
            + (receiveMaximum is { } rm ? $" receiveMax={rm}" : "") + (old is not null && takeover ? $" (over #{old.Id})" : ""), link.ConnectStamp);
        await connection.SendAsync(new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = ClientId,
            CleanSession = cleanStart,
            Properties = properties,
        });

        if (!await WaitAsync(link.ConnAck.Task, link, ModelTimeouts.Reply))
        {
            Model.Violation($"{ClientId}: no CONNACK on #{link.Id} ({(link.IsOpen ? "timed out" : connection.CloseReason)})");
            await connection.DisposeAsync();
        }

        if (takeover && old is not null)
        {
            // [MQTT-3.1.4-2] the broker closes the existing connection of the client id.
            try
            {
                await old.Connection.Closed.WaitAsync(ModelTimeouts.Close);
            }
            catch (TimeoutException)
            {
                Model.Violation($"{ClientId}: connection #{old.Id} still open {ModelTimeouts.Close.TotalSeconds} s after #{link.Id} took its client id over [MQTT-3.1.4-2]");
            }

            await old.Connection.DisposeAsync();
        }
    }

    // ---- publish -----------------------------------------------------------------------------

    private async Task PublishAsync(ModelLink link, int? count = null)
    {
        count ??= 1 + _rng.Next(4);
        var sameTopic = _rng.Next(2) == 0 ? ModelTopics.Topics[_rng.Next(ModelTopics.Topics.Length)] : null;
        var waits = new List<Task>();
        for (var i = 0; i < count; i++)
        {
            var topic = sameTopic ?? ModelTopics.Topics[_rng.Next(ModelTopics.Topics.Length)];
            var qos = _rng.Next(10) switch { < 2 => MqttQoS.AtMostOnce, < 6 => MqttQoS.AtLeastOnce, _ => MqttQoS.ExactlyOnce };
            var retain = _rng.Next(100) < 8;
            if (await PublishOneAsync(link, topic, qos, retain) is { } done)
            {
                waits.Add(done);
            }
        }

        // Held acknowledgements go out first: a broker that slows publishers for a lagging
        // subscriber must not wait on this actor while it waits on the broker.
        await ReleaseAcksAsync();
        if (waits.Count > 0 && !await WaitAsync(Task.WhenAll(waits), link, ModelTimeouts.Ack) && link.IsOpen)
        {
            lock (Model.Sync)
            {
                var missing = link.Epoch?.Outbox.Values.Where(o => !o.Done.Task.IsCompleted).Select(o => o.Message.Id.ToString()) ?? [];
                Model.Violation($"{ClientId}: publishes {string.Join(", ", missing)} on #{link.Id} not acknowledged within {ModelTimeouts.Ack.TotalSeconds} s");
            }
        }
    }

    /// <summary>Sends one PUBLISH; returns the task that completes at its acknowledgement (null for QoS 0).</summary>
    private async Task<Task?> PublishOneAsync(ModelLink link, string topic, MqttQoS qos, bool retain)
    {
        MessageRecord record;
        Outgoing? outgoing = null;
        ushort id = 0;
        lock (Model.Sync)
        {
            if (link.Epoch is not { } epoch)
            {
                return null;
            }

            var msg = new MsgId(Index, ++_seq);
            record = new MessageRecord(msg, topic, qos, retain, Model.Next());
            Model.Messages[msg] = record;
            if (qos != MqttQoS.AtMostOnce)
            {
                id = NextPacketId(epoch, link);
                outgoing = new Outgoing(record);
                epoch.Outbox[id] = outgoing;
            }
        }

        Trace($"publish #{link.Id} {record.Id} '{topic}' q{(int)qos}{(retain ? " retain" : "")} id={id}", record.FirstSend);
        await link.Connection.SendAsync(new PublishPacket { Topic = topic, Payload = record.Id.ToPayload(), QoS = qos, Retain = retain, PacketId = id });
        return outgoing?.Done.Task;
    }

    // ---- acknowledgements held ---------------------------------------------------------------

    private void Hold(ModelLink link)
    {
        _holdOps = 1 + _rng.Next(3);
        link.Holding = true;
        Trace($"hold acks on #{link.Id} for {_holdOps} operations", Model.Next());
    }

    private async Task ReleaseAcksAsync()
    {
        _holdOps = 0;
        var link = _current;
        if (link is null || !link.Holding)
        {
            return;
        }

        await link.AckGate.WaitAsync();
        try
        {
            link.Holding = false;
            foreach (var ack in link.HeldAcks)
            {
                await SendAckNowAsync(link, ack);
            }

            link.HeldAcks.Clear();
        }
        finally
        {
            link.AckGate.Release();
        }
    }

    // ---- ending connections ------------------------------------------------------------------

    private async Task DisconnectAsync(ModelLink link)
    {
        Closing(link);
        Trace($"disconnect #{link.Id}", link.ClosingFrom!.Value);
        if (!await link.Connection.DisconnectAsync())
        {
            Model.Violation($"{ClientId}: the broker did not close #{link.Id} within {ModelTimeouts.Close.TotalSeconds} s of DISCONNECT and our half-close");
        }
    }

    private async Task AbortAsync(ModelLink link)
    {
        var reset = _rng.Next(2) == 0;
        Closing(link);
        Trace($"abort #{link.Id} ({(reset ? "RST" : "FIN")})", link.ClosingFrom!.Value);
        await link.Connection.AbortAsync(reset);
    }

    /// <summary>
    /// Writes a PUBLISH, SUBSCRIBE or UNSUBSCRIBE and closes at once, without waiting for its answer:
    /// whether the broker applied it is unknown, and the model treats it so (allowed, not required).
    /// </summary>
    private async Task SendThenAbortAsync(ModelLink link)
    {
        switch (_rng.Next(3))
        {
            case 0:
                await PublishOneAsync(link, ModelTopics.Topics[_rng.Next(ModelTopics.Topics.Length)], _rng.Next(2) == 0 ? MqttQoS.AtLeastOnce : MqttQoS.ExactlyOnce, retain: false);
                break;
            case 1:
                var filter = PickFilter();
                var qos = Role == ActorRole.Shared ? SharedQoS() : _rng.Next(3);
                if (Begin(link, filter, qos, out var id) is { } request)
                {
                    Trace($"subscribe #{link.Id} '{filter}' q{qos} id={id} (then abort)", request.Change.Start);
                    await link.Connection.SendAsync(new SubscribePacket { PacketId = id, Subscriptions = [new TopicSubscription(filter, new SubscriptionOptions((MqttQoS)qos))] });
                }

                break;
            default:
                var unsub = PickFilter();
                if (Begin(link, unsub, -1, out var uid) is { } unsubRequest)
                {
                    Trace($"unsubscribe #{link.Id} '{unsub}' id={uid} (then abort)", unsubRequest.Change.Start);
                    await link.Connection.SendAsync(new UnsubscribePacket { PacketId = uid, Filters = [unsub] });
                }

                break;
        }

        await AbortAsync(link);
    }

    /// <summary>We are about to close the link: a session that ends with its connection may end from now on.</summary>
    private void Closing(ModelLink link)
    {
        lock (Model.Sync)
        {
            link.ClosingFrom = Model.Next();
            if (link.Epoch is { Alive: true, Persistent: false } epoch && ReferenceEquals(_current, link))
            {
                epoch.End(link.ClosingFrom.Value, SubscriptionChange.Open, $"ends with #{link.Id}, which we close");
            }
        }
    }

    // ---- drain -------------------------------------------------------------------------------

    /// <summary>
    /// End of the random phase: acknowledgements flow again, a stored session is resumed, the fence
    /// topic is subscribed, and our own publishes are acknowledged. Returns the incarnation that must
    /// now receive what it is owed, or null when this client has none.
    /// </summary>
    public async Task<Epoch?> DrainAsync()
    {
        await ReleaseAcksAsync();
        bool resume;
        lock (Model.Sync)
        {
            resume = _epoch is { Alive: true, Persistent: true } && _current is not { IsOpen: true };
        }

        if (resume)
        {
            await ConnectAsync(takeover: false, forceResume: true);
        }

        var link = _current;
        Epoch? epoch;
        lock (Model.Sync)
        {
            epoch = link is { IsOpen: true } && link.Epoch is { Alive: true } e ? e : null;
        }

        if (link is null || epoch is null)
        {
            return null;
        }

        await SubscribeAsync(link, FenceTopic, 1);
        Task[] outstanding;
        lock (Model.Sync)
        {
            outstanding = [.. epoch.Outbox.Values.Select(o => o.Done.Task)];
        }

        if (!await WaitAsync(Task.WhenAll(outstanding), link, ModelTimeouts.Ack) && link.IsOpen)
        {
            Model.Violation($"{ClientId}: {outstanding.Count(t => !t.IsCompleted)} publishes resent on #{link.Id} not acknowledged within {ModelTimeouts.Ack.TotalSeconds} s");
        }

        return epoch;
    }

    /// <summary>Where the drain sends this client its fence messages.</summary>
    public string FenceTopic => "fence/" + ClientId;

    /// <summary>Closes every connection (end of run).</summary>
    public async Task CloseAsync()
    {
        if (_current is { } link)
        {
            await link.Connection.DisposeAsync();
        }
    }

    // ---- helpers -----------------------------------------------------------------------------

    /// <summary>Waits for <paramref name="task"/>; false when the connection closed first or the timeout passed.</summary>
    private static async Task<bool> WaitAsync(Task task, ModelLink link, TimeSpan timeout)
    {
        await Task.WhenAny(task, link.Connection.Closed).WaitAsync(timeout).ContinueWith(_ => { }, TaskScheduler.Default);
        return task.IsCompletedSuccessfully;
    }

    private void NoAnswer(ModelLink link, string what, ushort id)
    {
        if (link.IsOpen)
        {
            Model.Violation($"{ClientId}: no {what} for id {id} on #{link.Id} within {ModelTimeouts.Reply.TotalSeconds} s");
        }
    }

    /// <summary>A packet id free in this session (outbox) and on this connection (pending requests).</summary>
    private ushort NextPacketId(Epoch epoch, ModelLink link)
    {
        while (true)
        {
            _lastPacketId = _lastPacketId % ushort.MaxValue + 1;
            var id = (ushort)_lastPacketId;
            if (!epoch.Outbox.ContainsKey(id) && !link.Requests.ContainsKey(id))
            {
                return id;
            }
        }
    }

    private void Trace(string text, long stamp) => Model.Trace.Add(stamp, $"{ClientId} {text}");
}
