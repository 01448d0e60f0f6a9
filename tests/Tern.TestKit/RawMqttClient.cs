using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Tern.Protocol;

namespace Tern.TestKit;

/// <summary>
/// A hand-driven MQTT connection over real TCP: send any packet or raw bytes, receive decoded packets,
/// observe the broker closing the socket. A background loop reads and decodes everything the broker
/// sends; every packet in both directions is kept in <see cref="Transcript"/>, which failure messages show.
/// </summary>
public sealed partial class RawMqttClient : IAsyncDisposable
{
    private const int DecodeLimit = 268_435_460;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Channel<MqttPacket> _incoming = Channel.CreateUnbounded<MqttPacket>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Queue<MqttPacket> _held = new();
    private readonly ConcurrentQueue<string> _transcript = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _dispose = new();
    private volatile TaskCompletionSource? _readGate;
    private volatile string? _closeReason;
    private int _nextPacketId;
    private Task _readLoop = Task.CompletedTask;

    private RawMqttClient(TcpClient tcp, string name)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        Name = name;
    }

    /// <summary>Label used in failure messages (the client id once CONNECT was sent).</summary>
    public string Name { get; set; }

    /// <summary>Protocol version used to encode and decode; set by <see cref="ConnectAsync"/>.</summary>
    public MqttProtocolVersion Version { get; set; } = MqttProtocolVersion.V311;

    /// <summary>True once the broker closed (or reset) the connection.</summary>
    public bool IsClosed => _closed.Task.IsCompleted;

    /// <summary>Why the read loop ended: "closed by peer", "reset", or a decode error.</summary>
    public string? CloseReason => _closeReason;

    /// <summary>Every packet sent (→) and received (←), in order.</summary>
    public string Transcript => string.Join(Environment.NewLine, _transcript);

    /// <summary>Opens a TCP connection to 127.0.0.1:<paramref name="port"/>; nothing is sent yet.</summary>
    /// <param name="port">Broker port.</param>
    /// <param name="receiveBufferSize">Socket receive buffer (SO_RCVBUF); small values make a stuck reader fill up fast.</param>
    public static async Task<RawMqttClient> OpenAsync(int port, int? receiveBufferSize = null)
    {
        var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            tcp.ReceiveBufferSize = size;
        }

        try
        {
            using var cts = new CancellationTokenSource(TestTimeouts.Receive);
            await tcp.ConnectAsync(IPAddress.Loopback, port, cts.Token).ConfigureAwait(false);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }

        var client = new RawMqttClient(tcp, $"raw:{((IPEndPoint)tcp.Client.LocalEndPoint!).Port}");
        client._readLoop = Task.Run(client.ReadLoopAsync);
        return client;
    }

    /// <summary>Allocates the next packet identifier (1..65535, never 0).</summary>
    public ushort NextPacketId()
    {
        var id = (ushort)(Interlocked.Increment(ref _nextPacketId) % 65536);
        return id == 0 ? NextPacketId() : id;
    }

    // ---- sending -------------------------------------------------------------------------------

    /// <summary>Encodes <paramref name="packet"/> with <see cref="Version"/> and writes it.</summary>
    public Task SendAsync(MqttPacket packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        var bytes = MqttEncoder.ToArray(packet, Version);
        return WriteAsync(bytes, "→ " + Describe(packet));
    }

    /// <summary>Writes bytes exactly as given (for malformed input).</summary>
    public Task SendRawAsync(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var hex = bytes.Length <= 48 ? Convert.ToHexString(bytes) : Convert.ToHexString(bytes, 0, 48) + $"… ({bytes.Length} bytes)";
        return WriteAsync(bytes, "→ raw " + hex);
    }

    private async Task WriteAsync(byte[] bytes, string note)
    {
        _transcript.Enqueue(note);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            using var cts = new CancellationTokenSource(TestTimeouts.Receive);
            await _stream.WriteAsync(bytes, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            throw new MqttTestException($"[{Name}] could not send {note[2..]}: {e.Message}", this);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    // ---- receiving -----------------------------------------------------------------------------

    /// <summary>Receives the next packet, whatever its type.</summary>
    public async Task<MqttPacket> ReceiveAnyAsync(TimeSpan? timeout = null)
    {
        if (_held.TryDequeue(out var held))
        {
            return held;
        }

        return await ReadChannelAsync(timeout ?? TestTimeouts.Receive, "a packet").ConfigureAwait(false);
    }

    /// <summary>Receives the next packet and requires it to be a <typeparamref name="T"/>.</summary>
    public async Task<T> ReceiveAsync<T>(TimeSpan? timeout = null)
        where T : MqttPacket
    {
        var packet = await ReceiveAnyAsync(timeout).ConfigureAwait(false);
        return packet as T ?? throw new MqttTestException(
            $"[{Name}] expected {typeof(T).Name} but received {Describe(packet)}", this);
    }

    /// <summary>
    /// Waits for a <typeparamref name="T"/> (an acknowledgement); PUBLISH packets that arrive first are
    /// held and returned by later receives in their original order. Any other packet is a failure.
    /// </summary>
    public async Task<T> ReceiveAckAsync<T>(TimeSpan? timeout = null)
        where T : MqttPacket
    {
        var deadline = DateTime.UtcNow + (timeout ?? TestTimeouts.Receive);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            var packet = await ReadChannelAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, typeof(T).Name).ConfigureAwait(false);
            switch (packet)
            {
                case T match:
                    return match;
                case PublishPacket publish:
                    _held.Enqueue(publish);
                    break;
                default:
                    throw new MqttTestException($"[{Name}] expected {typeof(T).Name} but received {Describe(packet)}", this);
            }
        }
    }

    /// <summary>
    /// Asserts that nothing arrives within <paramref name="window"/> (default <see cref="TestTimeouts.Absence"/>)
    /// and that the connection stays open.
    /// </summary>
    public async Task ExpectNoPacketAsync(TimeSpan? window = null)
    {
        if (_held.TryPeek(out var held))
        {
            throw new MqttTestException($"[{Name}] expected no packet but {Describe(held)} had arrived", this);
        }

        using var cts = new CancellationTokenSource(window ?? TestTimeouts.Absence);
        try
        {
            var packet = await _incoming.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
            throw new MqttTestException($"[{Name}] expected no packet but received {Describe(packet)}", this);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // Nothing arrived: what the caller wants.
        }
        catch (ChannelClosedException)
        {
            throw new MqttTestException($"[{Name}] expected no packet and an open connection, but the connection ended ({_closeReason})", this);
        }
    }

    /// <summary>Returns true when the broker closes the connection within <paramref name="timeout"/>; packets sent before the close are kept.</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        try
        {
            await _closed.Task.WaitAsync(timeout ?? TestTimeouts.Close).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Stops reading from the socket (the kernel buffers fill and the broker's writes stall).</summary>
    public void PauseReading() => _readGate ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Resumes reading after <see cref="PauseReading"/>.</summary>
    public void ResumeReading() => Interlocked.Exchange(ref _readGate, null)?.TrySetResult();

    private async Task<MqttPacket> ReadChannelAsync(TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await _incoming.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new MqttTestException($"[{Name}] timed out after {timeout.TotalMilliseconds:0} ms waiting for {what}", this);
        }
        catch (ChannelClosedException)
        {
            throw new MqttTestException($"[{Name}] waiting for {what}, but the connection ended ({_closeReason})", this);
        }
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        try
        {
            while (true)
            {
                if (_readGate is { } gate)
                {
                    await gate.Task.WaitAsync(_dispose.Token).ConfigureAwait(false);
                }

                var result = await reader.ReadAsync(_dispose.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (MqttDecoder.TryRead(ref buffer, Version, DecodeLimit, out var packet) && packet is not null)
                {
                    _transcript.Enqueue("← " + Describe(packet));
                    _incoming.Writer.TryWrite(packet);
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    _closeReason = buffer.IsEmpty ? "closed by peer" : $"closed by peer in the middle of a packet ({buffer.Length} bytes left)";
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            _closeReason = "disposed by the test";
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            _closeReason = "reset: " + e.Message;
        }
        catch (MqttProtocolException e)
        {
            _closeReason = "the broker sent bytes the decoder rejects: " + e.Message;
        }
        finally
        {
            _transcript.Enqueue("× " + _closeReason);
            _incoming.Writer.TryComplete();
            _closed.TrySetResult();
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    // ---- lifecycle -----------------------------------------------------------------------------

    /// <summary>Closes the socket without DISCONNECT (FIN, or RST when <paramref name="reset"/>).</summary>
    public async Task AbortAsync(bool reset = false)
    {
        _transcript.Enqueue(reset ? "→ (reset)" : "→ (close)");
        if (reset)
        {
            _tcp.Client.LingerState = new LingerOption(true, 0);
        }
        else
        {
            // .NET on Linux closes a socket that has a pending receive abortively (RST); shutting
            // down first makes it an orderly FIN, as a client process that exits would send.
            try
            {
                _tcp.Client.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already reset by the broker.
            }
        }

        _tcp.Client.Close();
        await _closed.Task.WaitAsync(TestTimeouts.Close).ConfigureAwait(false);
    }

    /// <summary>Sends DISCONNECT, half-closes, and waits (bounded) for the broker to close.</summary>
    public async Task DisconnectAsync()
    {
        await SendAsync(DisconnectPacket.Normal).ConfigureAwait(false);
        try
        {
            _tcp.Client.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Already closed by the broker.
        }

        await WaitForCloseAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _dispose.CancelAsync().ConfigureAwait(false);
        ResumeReading();
        _tcp.Dispose();
        try
        {
            await _readLoop.WaitAsync(TestTimeouts.Close).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The loop is abandoned; the socket is closed either way.
        }

        _dispose.Dispose();
        _writeLock.Dispose();
    }

    /// <summary>A one-line description of a packet for transcripts and failure messages.</summary>
    public static string Describe(MqttPacket packet) => packet switch
    {
        null => "null",
        PublishPacket p => $"PUBLISH(topic='{p.Topic}', qos={(int)p.QoS}, retain={(p.Retain ? 1 : 0)}, dup={(p.Dup ? 1 : 0)}, id={p.PacketId}, payload={DescribePayload(p.Payload)})",
        ConnectPacket c => $"CONNECT(v={(int)c.ProtocolVersion}, id='{c.ClientId}', clean={(c.CleanSession ? 1 : 0)}, keepAlive={c.KeepAlive}, will={(c.Will is null ? "-" : $"'{c.Will.Topic}' q{(int)c.Will.QoS} r{(c.Will.Retain ? 1 : 0)}")})",
        ConnAckPacket a => $"CONNACK(sp={(a.SessionPresent ? 1 : 0)}, rc=0x{a.ReasonCode:X2})",
        PubAckPacket a => $"PUBACK(id={a.PacketId})",
        PubRecPacket a => $"PUBREC(id={a.PacketId})",
        PubRelPacket a => $"PUBREL(id={a.PacketId})",
        PubCompPacket a => $"PUBCOMP(id={a.PacketId})",
        SubscribePacket s => $"SUBSCRIBE(id={s.PacketId}, {string.Join(", ", s.Subscriptions.Select(x => $"'{x.Filter}' q{(int)x.Options.QoS}"))})",
        SubAckPacket s => $"SUBACK(id={s.PacketId}, codes=[{string.Join(",", s.ReasonCodes.Select(c => $"0x{c:X2}"))}])",
        UnsubscribePacket u => $"UNSUBSCRIBE(id={u.PacketId}, {string.Join(", ", u.Filters.Select(f => $"'{f}'"))})",
        UnsubAckPacket u => $"UNSUBACK(id={u.PacketId})",
        PingReqPacket => "PINGREQ",
        PingRespPacket => "PINGRESP",
        DisconnectPacket => "DISCONNECT",
        _ => packet.Type.ToString().ToUpperInvariant(),
    };

    private static string DescribePayload(ReadOnlyMemory<byte> payload)
    {
        if (payload.Length > 40)
        {
            return $"{payload.Length} bytes";
        }

        var text = Encoding.UTF8.GetString(payload.Span);
        return text.All(c => !char.IsControl(c)) ? $"'{text}'" : Convert.ToHexString(payload.Span);
    }
}
