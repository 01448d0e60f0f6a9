using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Tern.Protocol;

namespace Tern.Benchmarks;

/// <summary>MqttDecoder.TryRead on CONNECT, PUBLISH (64-byte payload) and SUBSCRIBE, from one segment and from
/// a sequence split into 16-byte segments (as a socket's pipe can hand it over).</summary>
[MemoryDiagnoser]
public class DecoderBenchmarks
{
    private byte[] _connect = [];
    private byte[] _publish = [];
    private byte[] _subscribe = [];
    private ReadOnlySequence<byte> _connectSplit;
    private ReadOnlySequence<byte> _publishSplit;
    private ReadOnlySequence<byte> _subscribeSplit;

    [GlobalSetup]
    public void Setup()
    {
        const MqttProtocolVersion v = MqttProtocolVersion.V311;
        _connect = MqttEncoder.ToArray(new ConnectPacket { ClientId = "sensor-0042", KeepAlive = 60, Username = "device", Password = "secret"u8.ToArray() }, v);
        _publish = MqttEncoder.ToArray(new PublishPacket { Topic = "devices/sensor-0042/telemetry", Payload = new byte[64], QoS = MqttQoS.AtLeastOnce, PacketId = 7 }, v);
        _subscribe = MqttEncoder.ToArray(
            new SubscribePacket
            {
                PacketId = 3,
                Subscriptions = [new("devices/+/telemetry", new(MqttQoS.AtLeastOnce)), new("devices/sensor-0042/cmd/#", new(MqttQoS.ExactlyOnce))],
            },
            v);
        _connectSplit = Segments.Split(_connect, 16);
        _publishSplit = Segments.Split(_publish, 16);
        _subscribeSplit = Segments.Split(_subscribe, 16);
    }

    [Benchmark]
    public MqttPacket? ConnectSingle() => Read(new ReadOnlySequence<byte>(_connect));

    [Benchmark]
    public MqttPacket? ConnectMulti() => Read(_connectSplit);

    [Benchmark(Baseline = true)]
    public MqttPacket? PublishSingle() => Read(new ReadOnlySequence<byte>(_publish));

    [Benchmark]
    public MqttPacket? PublishMulti() => Read(_publishSplit);

    [Benchmark]
    public MqttPacket? SubscribeSingle() => Read(new ReadOnlySequence<byte>(_subscribe));

    [Benchmark]
    public MqttPacket? SubscribeMulti() => Read(_subscribeSplit);

    /// <summary>Framing only, as the broker's read loop and 'tern bench' subscribers do first.</summary>
    [Benchmark]
    public int PublishFrameOnly()
    {
        var buffer = new ReadOnlySequence<byte>(_publish);
        return MqttDecoder.TryReadFrame(ref buffer, int.MaxValue, out var frame) ? frame.Length : 0;
    }

    private static MqttPacket? Read(ReadOnlySequence<byte> buffer)
    {
        MqttDecoder.TryRead(ref buffer, MqttProtocolVersion.V311, int.MaxValue, out var packet);
        return packet;
    }
}

/// <summary>MqttEncoder.WritePublish (the broker's per-delivery call) into a reused ArrayBufferWriter.</summary>
[MemoryDiagnoser]
public class EncoderBenchmarks
{
    private readonly ArrayBufferWriter<byte> _writer = new(64 * 1024);
    private readonly byte[] _topic = Encoding.UTF8.GetBytes("devices/sensor-0042/telemetry");
    private readonly byte[] _payload = new byte[64];
    private readonly PublishPacket _packet = new() { Topic = "devices/sensor-0042/telemetry", Payload = new byte[64], QoS = MqttQoS.AtLeastOnce, PacketId = 7 };

    [Params(MqttProtocolVersion.V311, MqttProtocolVersion.V500)]
    public MqttProtocolVersion Version { get; set; }

    [Benchmark(Baseline = true)]
    public int WritePublishQoS0()
    {
        _writer.ResetWrittenCount();
        MqttEncoder.WritePublish(_writer, Version, _topic, _payload, MqttQoS.AtMostOnce, retain: false, dup: false, packetId: 0, properties: null);
        return _writer.WrittenCount;
    }

    [Benchmark]
    public int WritePublishQoS1()
    {
        _writer.ResetWrittenCount();
        MqttEncoder.WritePublish(_writer, Version, _topic, _payload, MqttQoS.AtLeastOnce, retain: false, dup: false, packetId: 7, properties: null);
        return _writer.WrittenCount;
    }

    /// <summary>The packet-object path (clients): topic string encoded on each call.</summary>
    [Benchmark]
    public int WritePacket()
    {
        _writer.ResetWrittenCount();
        MqttEncoder.Write(_writer, _packet, Version);
        return _writer.WrittenCount;
    }
}

/// <summary>A sequence of fixed-size segments over a copy of some bytes.</summary>
internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Split(byte[] bytes, int size)
    {
        var first = new Segments(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
        var last = first;
        for (var offset = size; offset < bytes.Length; offset += size)
        {
            var next = new Segments(bytes.AsMemory(offset, Math.Min(size, bytes.Length - offset)), offset);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
