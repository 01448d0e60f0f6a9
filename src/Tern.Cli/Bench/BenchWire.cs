using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>
/// The bytes the load generator sends, encoded once with <see cref="MqttEncoder"/> (MQTT 3.1.1).
/// A benchmark payload starts with a 24-byte header, all little-endian: the marker "TBN\x01", the run id
/// (u32, random per process, so a run counts only its own messages), then, patched in place per message,
/// stream id (u32), sequence number (u32) and send timestamp (<see cref="System.Diagnostics.Stopwatch"/> ticks, i64).
/// On Linux the timestamp is CLOCK_MONOTONIC, comparable across processes.
/// </summary>
internal static class BenchWire
{
    /// <summary>Bytes of the payload header; payloads are at least this long.</summary>
    public const int PayloadHeaderSize = 24;

    /// <summary>"TBN\x01" read as a little-endian u32: the first bytes of every benchmark payload.</summary>
    public const uint Marker = 0x014E4254;

    /// <summary>Offsets in the payload header.</summary>
    public const int RunOffset = 4, StreamOffset = 8, SequenceOffset = 12, TimestampOffset = 16;

    /// <summary>A run id for this process: random, never 0.</summary>
    public static uint NewRunId() => (uint)Random.Shared.NextInt64(1, uint.MaxValue);

    public const MqttProtocolVersion Version = MqttProtocolVersion.V311;

    /// <param name="cleanSession">false: a persistent session (<c>-c</c>).</param>
    public static byte[] Connect(string clientId, string? username = null, string? password = null, bool cleanSession = true) =>
        MqttEncoder.ToArray(
            new ConnectPacket
            {
                ClientId = clientId,
                CleanSession = cleanSession,
                Username = username,
                Password = password is null ? null : (ReadOnlyMemory<byte>?)Encoding.UTF8.GetBytes(password),
            },
            Version);

    public static byte[] Subscribe(string filter, MqttQoS qos, ushort packetId = 1) => Subscribe([filter], qos, packetId);

    /// <summary>One SUBSCRIBE for several filters (one SUBACK code each).</summary>
    public static byte[] Subscribe(IReadOnlyList<string> filters, MqttQoS qos, ushort packetId)
    {
        var subscriptions = new TopicSubscription[filters.Count];
        for (var i = 0; i < subscriptions.Length; i++)
        {
            subscriptions[i] = new TopicSubscription(filters[i], new SubscriptionOptions(qos));
        }

        return MqttEncoder.ToArray(new SubscribePacket { PacketId = packetId, Subscriptions = subscriptions }, Version);
    }

    public static byte[] Unsubscribe(string filter, ushort packetId) =>
        MqttEncoder.ToArray(new UnsubscribePacket { PacketId = packetId, Filters = [filter] }, Version);

    public static byte[] Disconnect() => [0xE0, 0x00];

    /// <summary>PUBACK/PUBREC/PUBREL/PUBCOMP: fixed header, length 2, packet id.</summary>
    public static void WriteAck(Span<byte> destination, byte header, ushort packetId)
    {
        destination[0] = header;
        destination[1] = 2;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], packetId);
    }

    public const byte PubAck = 0x40;
    public const byte PubRec = 0x50;
    public const byte PubRel = 0x62;
    public const byte PubComp = 0x70;
}

/// <summary>A PUBLISH encoded once with the run id in its payload; <see cref="CopyTo"/> stamps a copy with id, stream, sequence and time.</summary>
internal sealed class PublishTemplate
{
    private readonly byte[] _bytes;
    private readonly int _payloadOffset;
    private readonly int _packetIdOffset;

    public PublishTemplate(string topic, int payloadSize, MqttQoS qos, uint runId)
    {
        Topic = topic;
        QoS = qos;
        var buffer = new ArrayBufferWriter<byte>();
        byte[] payload = new byte[Math.Max(payloadSize, BenchWire.PayloadHeaderSize)];
        for (var i = BenchWire.PayloadHeaderSize; i < payload.Length; i++)
        {
            payload[i] = (byte)('a' + (i % 26));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(payload, BenchWire.Marker);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(BenchWire.RunOffset), runId);

        MqttEncoder.WritePublish(buffer, BenchWire.Version, Encoding.UTF8.GetBytes(topic), payload, qos, retain: false, dup: false, packetId: 1, properties: null);
        _bytes = buffer.WrittenSpan.ToArray();
        _payloadOffset = _bytes.Length - payload.Length;
        _packetIdOffset = qos == MqttQoS.AtMostOnce ? -1 : _payloadOffset - 2;
    }

    public string Topic { get; }

    public MqttQoS QoS { get; }

    public int Length => _bytes.Length;

    /// <summary>Copies the packet to <paramref name="destination"/> and patches its variable bytes.</summary>
    public void CopyTo(Span<byte> destination, ushort packetId, uint stream, uint sequence, long timestamp)
    {
        _bytes.CopyTo(destination);
        if (_packetIdOffset >= 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[_packetIdOffset..], packetId);
        }

        Span<byte> header = destination.Slice(_payloadOffset, BenchWire.PayloadHeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header[BenchWire.StreamOffset..], stream);
        BinaryPrimitives.WriteUInt32LittleEndian(header[BenchWire.SequenceOffset..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(header[BenchWire.TimestampOffset..], timestamp);
    }
}
