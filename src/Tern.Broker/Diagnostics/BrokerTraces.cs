using System.Globalization;
using System.Text;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>What a trace follows.</summary>
public enum TraceKind
{
    /// <summary>Every packet of one client id, in and out, and what the broker dropped of its messages.</summary>
    ClientId,

    /// <summary>Every PUBLISH whose topic matches a filter, in and out, whoever sends or receives it.</summary>
    Topic,
}

/// <summary>
/// Live traces for debugging a device: each one keeps the last lines of what matched it (packets in
/// and out, drops), in memory, for the REST API to read from a position onwards as one reads a
/// growing log. Nothing runs on the packet path while no trace exists (one volatile read).
/// </summary>
public sealed class BrokerTraces
{
    /// <summary>How many traces may run at once.</summary>
    public const int MaxTraces = 32;

    private readonly Lock _sync = new();
    private readonly TimeProvider _time;
    private volatile TraceSession[] _active = [];

    internal BrokerTraces(TimeProvider time) => _time = time;

    /// <summary>Whether any trace runs (checked on the packet path before anything else).</summary>
    internal bool Active => _active.Length > 0;

    /// <summary>The traces, oldest first.</summary>
    public IReadOnlyList<TraceSession> All => _active;

    /// <summary>Starts a trace named <paramref name="name"/>; null (and why) when it cannot.</summary>
    public TraceSession? Start(string name, TraceKind kind, string value, DateTimeOffset? endAt, out string? error)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        error = kind == TraceKind.Topic && !MqttTopic.IsValidTopicFilter(value) ? $"'{value}' is not a valid topic filter" : null;
        if (error is not null)
        {
            return null;
        }

        lock (_sync)
        {
            var active = _active;
            if (active.Any(t => t.Name == name))
            {
                error = $"a trace named '{name}' exists already";
                return null;
            }

            if (active.Length >= MaxTraces)
            {
                error = $"{MaxTraces} traces run already: delete one first";
                return null;
            }

            var trace = new TraceSession(name, kind, value, _time.GetUtcNow(), endAt);
            _active = [.. active, trace];
            return trace;
        }
    }

    /// <summary>Stops and forgets the trace named <paramref name="name"/>; false when there is none.</summary>
    public bool Stop(string name)
    {
        lock (_sync)
        {
            var active = _active;
            var kept = active.Where(t => t.Name != name).ToArray();
            _active = kept;
            return kept.Length != active.Length;
        }
    }

    /// <summary>The trace named <paramref name="name"/>, or null.</summary>
    public TraceSession? Find(string name) => _active.FirstOrDefault(t => t.Name == name);

    internal void Inbound(MqttConnection connection, MqttPacket packet)
    {
        // A CONNECT names the client before the connection knows it.
        var clientId = packet is ConnectPacket connect ? connect.ClientId : connection.ClientId;
        Record("in", clientId, connection.RemoteEndPoint, packet.Type, packet as PublishPacket is { } p ? p.Topic : null, () => Describe(packet));
    }

    internal void Outbound(MqttConnection connection, MqttPacket? control, ApplicationMessage? message, MqttQoS qos, ushort packetId, bool retain, bool dup)
    {
        if (control is not null)
        {
            Record("out", connection.ClientId, connection.RemoteEndPoint, control.Type, null, () => Describe(control));
        }
        else if (message is not null)
        {
            Record("out", connection.ClientId, connection.RemoteEndPoint, MqttPacketType.Publish, message.Topic, () => DescribePublish(message.Topic, qos, retain, dup, packetId, message.Payload.Span));
        }
    }

    internal void Dropped(MqttSession? session, DropReason reason, long count)
    {
        if (session is not null)
        {
            Record("drop", session.ClientId, null, null, null, () => string.Create(CultureInfo.InvariantCulture, $"{count} message(s) dropped: {DropReasonNames.Of(reason)}"));
        }
    }

    private void Record(string direction, string clientId, string? address, MqttPacketType? type, string? topic, Func<string> describe)
    {
        var now = _time.GetUtcNow();
        string? line = null;
        foreach (var trace in _active)
        {
            if (trace.EndAt is { } end && now >= end)
            {
                continue;
            }

            var matches = trace.Kind == TraceKind.ClientId
                ? clientId == trace.Value
                : topic is not null && MqttTopic.Matches(trace.Value, topic);
            if (matches)
            {
                line ??= string.Create(CultureInfo.InvariantCulture, $"{now:yyyy-MM-ddTHH:mm:ss.fffZ} {direction,-4} {(clientId.Length == 0 ? "-" : clientId)}{(address is null ? "" : "@" + address)} {(type is { } t ? t.ToString().ToUpperInvariant() + " " : "")}{describe()}");
                trace.Append(line);
            }
        }
    }

    private static string Describe(MqttPacket packet) => packet switch
    {
        PublishPacket p => DescribePublish(p.Topic, p.QoS, p.Retain, p.Dup, p.PacketId, p.Payload.Span),
        ConnectPacket c => string.Create(CultureInfo.InvariantCulture, $"protocol={c.ProtocolVersion} clean={c.CleanSession} keepalive={c.KeepAlive} username={c.Username ?? "-"} will={(c.Will is { } w ? w.Topic : "-")}"),
        ConnAckPacket a => string.Create(CultureInfo.InvariantCulture, $"session_present={a.SessionPresent} reason=0x{(byte)a.ReasonCode:X2}"),
        SubscribePacket s => string.Create(CultureInfo.InvariantCulture, $"id={s.PacketId} {string.Join(' ', s.Subscriptions.Select(x => $"{x.Filter}(qos {(int)x.Options.QoS})"))}"),
        SubAckPacket s => string.Create(CultureInfo.InvariantCulture, $"id={s.PacketId} reasons={string.Join(',', s.ReasonCodes.Select(r => $"0x{(byte)r:X2}"))}"),
        UnsubscribePacket u => string.Create(CultureInfo.InvariantCulture, $"id={u.PacketId} {string.Join(' ', u.Filters)}"),
        PubAckPacket a => string.Create(CultureInfo.InvariantCulture, $"id={a.PacketId} reason=0x{(byte)a.ReasonCode:X2}"),
        PubRecPacket a => string.Create(CultureInfo.InvariantCulture, $"id={a.PacketId} reason=0x{(byte)a.ReasonCode:X2}"),
        PubRelPacket a => string.Create(CultureInfo.InvariantCulture, $"id={a.PacketId} reason=0x{(byte)a.ReasonCode:X2}"),
        PubCompPacket a => string.Create(CultureInfo.InvariantCulture, $"id={a.PacketId} reason=0x{(byte)a.ReasonCode:X2}"),
        DisconnectPacket d => string.Create(CultureInfo.InvariantCulture, $"reason=0x{(byte)d.ReasonCode:X2}"),
        _ => "",
    };

    private static string DescribePublish(string topic, MqttQoS qos, bool retain, bool dup, ushort packetId, ReadOnlySpan<byte> payload)
    {
        // The start of the payload: as text when it is text, else as hex.
        var shown = payload[..Math.Min(payload.Length, 64)];
        var text = System.Text.Unicode.Utf8.IsValid(shown) && !shown.ContainsAnyInRange((byte)0, (byte)0x1F)
            ? "\"" + Encoding.UTF8.GetString(shown) + "\""
            : Convert.ToHexString(shown);
        return string.Create(CultureInfo.InvariantCulture, $"topic={topic} qos={(int)qos} retain={retain} dup={dup} id={packetId} payload={payload.Length} bytes {text}{(payload.Length > shown.Length ? "..." : "")}");
    }
}

/// <summary>One trace: its lines, kept up to <see cref="MaxBytes"/>, read by position as a log file is.</summary>
public sealed class TraceSession
{
    /// <summary>What a trace keeps of its newest lines.</summary>
    public const int MaxBytes = 1 << 20;

    private readonly Lock _sync = new();
    private readonly Queue<(long Position, string Line)> _lines = new();
    private long _end;
    private long _kept;

    internal TraceSession(string name, TraceKind kind, string value, DateTimeOffset startedAt, DateTimeOffset? endAt)
    {
        Name = name;
        Kind = kind;
        Value = value;
        StartedAt = startedAt;
        EndAt = endAt;
    }

    public string Name { get; }

    public TraceKind Kind { get; }

    /// <summary>The client id or the topic filter.</summary>
    public string Value { get; }

    public DateTimeOffset StartedAt { get; }

    /// <summary>When it stops recording; null: until deleted.</summary>
    public DateTimeOffset? EndAt { get; }

    /// <summary>Bytes written to it since it started (the end of its log).</summary>
    public long Size
    {
        get
        {
            lock (_sync)
            {
                return _end;
            }
        }
    }

    /// <summary>
    /// Up to <paramref name="maxBytes"/> of whole lines from <paramref name="position"/> (from the
    /// oldest line kept when that was let go), and the position after them.
    /// </summary>
    public (string Text, long Position) Read(long position, int maxBytes)
    {
        var text = new StringBuilder();
        lock (_sync)
        {
            var next = Math.Min(position, _end);
            var bytes = 0;
            foreach (var (start, line) in _lines)
            {
                var length = Encoding.UTF8.GetByteCount(line) + 1;
                if (start + length <= position)
                {
                    continue;
                }

                if (bytes > 0 && bytes + length > maxBytes)
                {
                    break;
                }

                text.Append(line).Append('\n');
                bytes += length;
                next = start + length;
            }

            return (text.ToString(), next);
        }
    }

    internal void Append(string line)
    {
        var length = Encoding.UTF8.GetByteCount(line) + 1;
        lock (_sync)
        {
            _lines.Enqueue((_end, line));
            _end += length;
            _kept += length;
            while (_kept > MaxBytes && _lines.Count > 1)
            {
                var (_, old) = _lines.Dequeue();
                _kept -= Encoding.UTF8.GetByteCount(old) + 1;
            }
        }
    }
}
