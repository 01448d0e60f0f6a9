using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>
/// One subscribing connection. Its receive loop only frames packets (<see cref="MqttDecoder.TryReadFrame"/>)
/// and reads the PUBLISH header and the 16 payload header bytes in place: nothing is allocated per message.
/// QoS 1/2 acknowledgements of one receive are sent in one write.
/// </summary>
internal sealed class BenchSubscriber : IDisposable
{
    private readonly Socket _socket;
    private readonly LatencyHistogram _latency;
    private readonly StreamTracker _tracker;
    private byte[] _buffer = new byte[256 * 1024];
    private byte[] _acks = new byte[16 * 1024];
    private readonly FlowControl? _flow;
    private readonly uint? _runId;
    private long _received;
    private long _receivedInWindow;
    private long _ignoredRetained;
    private long _ignoredForeign;
    private long _windowEnd = long.MaxValue;
    private ReceiveThrottle? _throttle;

    /// <param name="runId">Count only messages of this run (pubsub); null: of any <c>tern bench pub</c> run.</param>
    /// <param name="trackDelivered">Keep every sequence number received (see <see cref="StreamTracker.Delivered"/>).</param>
    public BenchSubscriber(Socket socket, LatencyHistogram latency, FlowControl? flow = null, uint? runId = null, bool trackDelivered = false)
    {
        _flow = flow;
        _runId = runId;
        _socket = socket;
        _latency = latency;
        _tracker = new StreamTracker(trackDelivered);
    }

    /// <summary>Takes at most <paramref name="messagesPerSecond"/> messages a second (see <see cref="ReceiveThrottle"/>); call before running.</summary>
    public void LimitRate(double messagesPerSecond) => _throttle = new ReceiveThrottle(messagesPerSecond);

    /// <summary>Benchmark messages of this run received (not retained ones, not other publishers').</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Those of <see cref="Received"/> that arrived by <see cref="WindowEnd"/>.</summary>
    public long ReceivedInWindow => Volatile.Read(ref _receivedInWindow);

    /// <summary>Messages delivered with the retain flag: stored before the run, not part of it.</summary>
    public long IgnoredRetained => Volatile.Read(ref _ignoredRetained);

    /// <summary>Messages from other clients: no benchmark header, or another run's.</summary>
    public long IgnoredForeign => Volatile.Read(ref _ignoredForeign);

    /// <summary><see cref="Stopwatch"/> timestamp at which the measured window ends; later receipts count only towards loss.</summary>
    public long WindowEnd
    {
        get => Volatile.Read(ref _windowEnd);
        set => Volatile.Write(ref _windowEnd, value);
    }

    public StreamTracker Tracker => _tracker;

    /// <summary><see cref="Stopwatch"/> timestamp: messages sent before it are counted, their latency is not recorded.</summary>
    public long RecordLatencyFrom { get; set; }

    public string? Error { get; private set; }

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            await ReceiveLoopAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is SocketException or BenchException or MqttProtocolException or ObjectDisposedException)
        {
            Error = ex.Message;
        }
    }

    /// <summary>
    /// The same loop with blocking calls, for a dedicated thread: cheaper per receive than an async
    /// continuation, which matters against a broker that sends one TCP segment per message. It ends
    /// when the socket is closed.
    /// </summary>
    public void RunBlocking()
    {
        try
        {
            var filled = 0;
            var throttled = false;
            while (true)
            {
                if (throttled)
                {
                    // Complete messages wait in the buffer for the throttle: take them before reading more.
                    Thread.Sleep(_throttle!.UntilNext());
                }
                else
                {
                    if (filled == _buffer.Length)
                    {
                        Array.Resize(ref _buffer, _buffer.Length * 2);
                    }

                    int n = _socket.Receive(_buffer.AsSpan(filled), SocketFlags.None, out var error);
                    if (error == SocketError.TimedOut || error == SocketError.WouldBlock)
                    {
                        // The low-water mark's timeout with nothing received yet (see CoalesceReceives).
                        continue;
                    }

                    if (error != SocketError.Success)
                    {
                        throw new SocketException((int)error);
                    }

                    if (n == 0)
                    {
                        throw new BenchException("The broker closed the connection.");
                    }

                    filled += n;
                }

                int consumed = Process(filled, out int ackBytes, out throttled);
                if (ackBytes > 0)
                {
                    _socket.Send(_acks.AsSpan(0, ackBytes), SocketFlags.None);
                }

                Buffer.BlockCopy(_buffer, consumed, _buffer, 0, filled - consumed);
                filled -= consumed;
            }
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception ex) when (ex is SocketException or BenchException or MqttProtocolException)
        {
            Error = _closed ? null : ex.Message;
        }
    }

    private volatile bool _closed;

    /// <summary>
    /// For throughput runs on a blocking socket: the kernel wakes this subscriber once
    /// <paramref name="bytes"/> are waiting (SO_RCVLOWAT), or after <paramref name="timeout"/> with what
    /// there is. A broker that sends each message in its own segment then costs the load generator one
    /// receive per batch, not one per message, so the figure is the broker's and not this core's.
    /// </summary>
    public void CoalesceReceives(int bytes, TimeSpan timeout)
    {
        _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, bytes);
        _socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
    }

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        var filled = 0;
        var throttled = false;
        while (true)
        {
            if (throttled)
            {
                await Task.Delay(_throttle!.UntilNext(), ct).ConfigureAwait(false);
            }
            else
            {
                if (filled == _buffer.Length)
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }

                int n = await _socket.ReceiveAsync(_buffer.AsMemory(filled), SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new BenchException("The broker closed the connection.");
                }

                filled += n;
            }

            int consumed = Process(filled, out int ackBytes, out throttled);
            if (ackBytes > 0)
            {
                await _socket.SendAsync(_acks.AsMemory(0, ackBytes), SocketFlags.None, ct).ConfigureAwait(false);
            }

            if (consumed > 0)
            {
                Buffer.BlockCopy(_buffer, consumed, _buffer, 0, filled - consumed);
                filled -= consumed;
            }
        }
    }

    /// <summary>
    /// Handles every complete packet in the buffer, or with a throttle as many PUBLISH packets as it
    /// allows (<paramref name="throttled"/>: one is left waiting for it); returns the bytes consumed.
    /// </summary>
    private int Process(int filled, out int ackBytes, out bool throttled)
    {
        ackBytes = 0;
        throttled = false;
        var sequence = new ReadOnlySequence<byte>(_buffer, 0, filled);
        long now = Stopwatch.GetTimestamp();
        long messages = 0;
        long allowed = _throttle?.Available() ?? long.MaxValue;
        long taken = 0;
        var before = sequence;
        while (MqttDecoder.TryReadFrame(ref sequence, int.MaxValue, out MqttFrame frame))
        {
            ReadOnlySpan<byte> body = frame.Body.FirstSpan;
            switch (frame.Type)
            {
                case MqttPacketType.Publish when taken == allowed:
                    sequence = before;
                    throttled = true;
                    break;
                case MqttPacketType.Publish:
                    taken++;
                    messages += OnPublish(body, frame.Flags, now, ref ackBytes) ? 1 : 0;
                    break;
                case MqttPacketType.PubRel:
                    AddAck(BenchWire.PubComp, BinaryPrimitives.ReadUInt16BigEndian(body), ref ackBytes);
                    break;
                default:
                    break;
            }

            if (throttled)
            {
                break;
            }

            before = sequence;
        }

        _throttle?.Take(taken);
        if (messages > 0)
        {
            Volatile.Write(ref _received, _received + messages);
            if (now <= Volatile.Read(ref _windowEnd))
            {
                Volatile.Write(ref _receivedInWindow, _receivedInWindow + messages);
            }
        }

        return filled - (int)sequence.Length;
    }

    /// <summary>Acknowledges a PUBLISH and records it; returns whether it is one of this run's messages.</summary>
    private bool OnPublish(ReadOnlySpan<byte> body, byte flags, long now, ref int ackBytes)
    {
        int qos = (flags >> 1) & 3;
        int offset = 2 + BinaryPrimitives.ReadUInt16BigEndian(body);
        if (qos > 0)
        {
            ushort packetId = BinaryPrimitives.ReadUInt16BigEndian(body[offset..]);
            offset += 2;
            AddAck(qos == 1 ? BenchWire.PubAck : BenchWire.PubRec, packetId, ref ackBytes);
        }

        // A broker sets the retain flag only on messages it stored earlier, never on a live delivery [MQTT-3.3.1-9].
        if ((flags & 1) != 0)
        {
            Volatile.Write(ref _ignoredRetained, _ignoredRetained + 1);
            return false;
        }

        ReadOnlySpan<byte> payload = body[offset..];
        if (payload.Length < BenchWire.PayloadHeaderSize
            || BinaryPrimitives.ReadUInt32LittleEndian(payload) != BenchWire.Marker
            || (_runId is { } run && BinaryPrimitives.ReadUInt32LittleEndian(payload[BenchWire.RunOffset..]) != run))
        {
            Volatile.Write(ref _ignoredForeign, _ignoredForeign + 1);
            return false;
        }

        uint stream = BinaryPrimitives.ReadUInt32LittleEndian(payload[BenchWire.StreamOffset..]);
        _tracker.Record(stream, BinaryPrimitives.ReadUInt32LittleEndian(payload[BenchWire.SequenceOffset..]));
        _flow?.Received(stream);
        long sent = BinaryPrimitives.ReadInt64LittleEndian(payload[BenchWire.TimestampOffset..]);
        if (sent >= RecordLatencyFrom && sent > 0 && sent <= now)
        {
            _latency.RecordTicks(now - sent);
        }

        return true;
    }

    private void AddAck(byte header, ushort packetId, ref int ackBytes)
    {
        if (ackBytes + 4 > _acks.Length)
        {
            Array.Resize(ref _acks, _acks.Length * 2);
        }

        BenchWire.WriteAck(_acks.AsSpan(ackBytes), header, packetId);
        ackBytes += 4;
    }

    public void Dispose()
    {
        _closed = true;
        _socket.Dispose();
    }
}
