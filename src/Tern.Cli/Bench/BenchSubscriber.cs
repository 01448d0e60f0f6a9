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
    private readonly StreamTracker _tracker = new();
    private byte[] _buffer = new byte[256 * 1024];
    private byte[] _acks = new byte[16 * 1024];
    private long _received;
    private long _lastReceiveTimestamp;

    private readonly FlowControl? _flow;

    public BenchSubscriber(Socket socket, LatencyHistogram latency, FlowControl? flow = null)
    {
        _flow = flow;
        _socket = socket;
        _latency = latency;
    }

    public long Received => Volatile.Read(ref _received);

    /// <summary><see cref="Stopwatch"/> timestamp of the latest receive with a message, 0 before any.</summary>
    public long LastReceiveTimestamp => Volatile.Read(ref _lastReceiveTimestamp);

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
            while (true)
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
                int consumed = Process(filled, out int ackBytes);
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
        while (true)
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
            int consumed = Process(filled, out int ackBytes);
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

    /// <summary>Handles every complete packet in the buffer; returns the bytes consumed.</summary>
    private int Process(int filled, out int ackBytes)
    {
        ackBytes = 0;
        var sequence = new ReadOnlySequence<byte>(_buffer, 0, filled);
        long now = Stopwatch.GetTimestamp();
        long messages = 0;
        while (MqttDecoder.TryReadFrame(ref sequence, int.MaxValue, out MqttFrame frame))
        {
            ReadOnlySpan<byte> body = frame.Body.FirstSpan;
            switch (frame.Type)
            {
                case MqttPacketType.Publish:
                    messages++;
                    OnPublish(body, frame.Flags, now, ref ackBytes);
                    break;
                case MqttPacketType.PubRel:
                    AddAck(BenchWire.PubComp, BinaryPrimitives.ReadUInt16BigEndian(body), ref ackBytes);
                    break;
                default:
                    break;
            }
        }

        if (messages > 0)
        {
            Volatile.Write(ref _received, _received + messages);
            Volatile.Write(ref _lastReceiveTimestamp, now);
        }

        return filled - (int)sequence.Length;
    }

    private void OnPublish(ReadOnlySpan<byte> body, byte flags, long now, ref int ackBytes)
    {
        int qos = (flags >> 1) & 3;
        int offset = 2 + BinaryPrimitives.ReadUInt16BigEndian(body);
        if (qos > 0)
        {
            ushort packetId = BinaryPrimitives.ReadUInt16BigEndian(body[offset..]);
            offset += 2;
            AddAck(qos == 1 ? BenchWire.PubAck : BenchWire.PubRec, packetId, ref ackBytes);
        }

        ReadOnlySpan<byte> payload = body[offset..];
        if (payload.Length < BenchWire.PayloadHeaderSize)
        {
            return;
        }

        uint stream = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        _tracker.Record(stream, BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]));
        _flow?.Received(stream);
        long sent = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        if (sent >= RecordLatencyFrom && sent > 0 && sent <= now)
        {
            _latency.RecordTicks(now - sent);
        }
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
