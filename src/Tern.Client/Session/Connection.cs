using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;
using Tern.Protocol;

namespace Tern.Client;

/// <summary>A packet for the writer; <see cref="Completion"/> completes once it was flushed (QoS 0 PublishAsync).</summary>
internal readonly record struct SendItem(MqttPacket Packet, TaskCompletionSource<PublishResult>? Completion = null);

/// <summary>
/// One network connection: its pipes, the control queue and the per-connection protocol state.
/// One reader loop, one writer loop (the only user of <see cref="Output"/>, one flush per drain) and
/// one keep-alive loop; the first to end ends the connection.
/// </summary>
internal sealed class Connection : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _cts = new();

    public Connection(Stream stream, MqttProtocolVersion version, int maxIncomingPacketSize)
    {
        _stream = stream;
        Version = version;
        MaxIncomingPacketSize = maxIncomingPacketSize;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public MqttProtocolVersion Version { get; }

    public int MaxIncomingPacketSize { get; }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    public ConcurrentQueue<SendItem> Control { get; } = new();

    public CancellationToken Token => _cts.Token;

    /// <summary>Server's receive maximum: how many QoS 1/2 publishes may be unacknowledged (MQTT 5).</summary>
    public int SendQuota { get; set; } = ushort.MaxValue;

    /// <summary>Server's maximum packet size (MQTT 5), or int.MaxValue.</summary>
    public long ServerMaxPacketSize { get; set; } = int.MaxValue;

    /// <summary>Highest QoS the server accepts in a PUBLISH (MQTT 5 CONNACK Maximum QoS); 2 when not announced.</summary>
    public MqttQoS ServerMaximumQoS { get; set; } = MqttQoS.ExactlyOnce;

    /// <summary>False when the server announced Retain Available = 0 (MQTT 5).</summary>
    public bool ServerRetainAvailable { get; set; } = true;

    public TimeSpan KeepAlive { get; set; }

    /// <summary>Topic aliases the server set on this connection (MQTT 5).</summary>
    public Dictionary<ushort, string> TopicAliases { get; } = [];

    public long LastSentTicks { get; set; } = Environment.TickCount64;

    /// <summary>When the unanswered PINGREQ was queued, or 0.</summary>
    public long PingSentTicks { get; set; }

    public DisconnectPacket? ServerDisconnect { get; set; }

    public bool ClientInitiatedClose { get; set; }

    /// <summary>Completes when the connection's loops ended and its events were posted.</summary>
    public TaskCompletionSource Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Enqueue(SendItem item)
    {
        Control.Enqueue(item);
        Signal();
    }

    public void Signal() => _wake.Writer.TryWrite(true);

    public ValueTask<bool> WaitForWorkAsync() => _wake.Reader.WaitToReadAsync(_cts.Token);

    public void ConsumeWake() => _wake.Reader.TryRead(out _);

    /// <summary>Writes CONNECT and reads the first packet, which must be CONNACK.</summary>
    public async Task<ConnAckPacket> HandshakeAsync(ConnectPacket connect, CancellationToken ct)
    {
        MqttEncoder.Write(Output, connect, Version);
        await Output.FlushAsync(ct).ConfigureAwait(false);
        LastSentTicks = Environment.TickCount64;
        while (true)
        {
            ReadResult result = await Input.ReadAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool framed = MqttDecoder.TryRead(ref buffer, Version, MaxIncomingPacketSize, out MqttPacket? packet);
            if (framed)
            {
                // Only CONNACK is consumed: what follows it in this read is not "examined", so the
                // read loop sees it at once instead of waiting for more bytes.
                Input.AdvanceTo(buffer.Start);
                return packet as ConnAckPacket
                    ?? throw MqttProtocolException.ProtocolError($"Expected CONNACK, the server sent {packet!.Type}.");
            }

            Input.AdvanceTo(buffer.Start, buffer.End);

            if (result.IsCompleted)
            {
                throw new IOException("The server closed the connection before CONNACK.");
            }
        }
    }

    /// <summary>Cancels the loops and closes the socket without DISCONNECT.</summary>
    public void Abort()
    {
        _cts.Cancel();
        _stream.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _cts.Cancel();
        await Input.CompleteAsync().ConfigureAwait(false);
        try
        {
            await Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // Completing flushes what is left; the socket may already be gone.
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        _cts.Dispose();
    }
}
