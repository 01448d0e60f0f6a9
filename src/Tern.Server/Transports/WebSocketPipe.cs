using System.IO.Pipelines;
using System.Net.WebSockets;

namespace Tern.Server.Transports;

/// <summary>
/// Presents a WebSocket as the byte stream the broker reads MQTT from: the payload of every binary
/// frame is appended to <see cref="Input"/> (so packets split across frames, or several in one frame,
/// frame themselves as on TCP), and each flush of <see cref="Output"/> goes out as one binary message.
/// </summary>
internal sealed class WebSocketPipe : IDuplexPipe
{
    /// <summary>How long to wait for the client's reply to our close frame before dropping the connection.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private readonly WebSocket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output = new(new PipeOptions(useSynchronizationContext: false));
    private readonly Action<string> _onViolation;
    private Task _receiving = Task.CompletedTask;
    private Task _sending = Task.CompletedTask;
    private volatile bool _violated;

    /// <param name="socket">The accepted WebSocket the MQTT connection runs over.</param>
    /// <param name="maxPacketSize">The broker reads a packet only when it is whole, so the input must hold one.</param>
    /// <param name="onViolation">Told why when the peer breaks the WebSocket rules of MQTT (e.g. a text frame).</param>
    public WebSocketPipe(WebSocket socket, long maxPacketSize, Action<string> onViolation)
    {
        _socket = socket;
        _onViolation = onViolation;
        var pause = maxPacketSize + 64 * 1024;
        _input = new Pipe(new PipeOptions(pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, useSynchronizationContext: false));
    }

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output.Writer;

    public void Start()
    {
        _receiving = ReceiveAsync();
        _sending = SendAsync();
    }

    /// <summary>The broker is done sending: a close frame follows what is queued.</summary>
    public void CloseOutput() => _output.Writer.Complete();

    /// <summary>Drops the connection at once (no close handshake).</summary>
    public void Abort() => _socket.Abort();

    /// <summary>After the broker is done with the connection: close handshake, then wait for both loops.</summary>
    public async Task CompleteAsync()
    {
        _output.Writer.Complete();
        _input.Reader.Complete();
        await _sending.ConfigureAwait(false);
        try
        {
            await _receiving.WaitAsync(CloseTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _socket.Abort();
            await _receiving.ConfigureAwait(false);
        }
    }

    private async Task ReceiveAsync()
    {
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(writer.GetMemory(4096), CancellationToken.None).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (result.MessageType == WebSocketMessageType.Text)
                {
                    // MQTT over WebSocket is binary frames only; anything else ends the connection (MQTT 3.1.1 §6).
                    _violated = true;
                    error = new IOException("text WebSocket frame; MQTT over WebSocket uses binary frames");
                    _onViolation("text frame received; MQTT over WebSocket uses binary frames");
                    _output.Reader.CancelPendingRead();
                    break;
                }

                writer.Advance(result.Count);
                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted)
                {
                    // The broker stopped reading; keep receiving (and discarding) until the client's close frame.
                    await DrainAsync().ConfigureAwait(false);
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client went away without a close frame: the broker sees the end of the stream.
        }

        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    private async Task DrainAsync()
    {
        var scratch = new byte[1024];
        while (_socket.State is WebSocketState.Open or WebSocketState.CloseSent)
        {
            var result = await _socket.ReceiveAsync(scratch.AsMemory(), CancellationToken.None).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
        }
    }

    private async Task SendAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (_violated)
                {
                    break;
                }

                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    // One message per flush; a multi-segment buffer goes out as continuation frames.
                    var remaining = buffer.Length;
                    foreach (var segment in buffer)
                    {
                        if (segment.IsEmpty)
                        {
                            continue;
                        }

                        remaining -= segment.Length;
                        await _socket.SendAsync(segment, WebSocketMessageType.Binary, endOfMessage: remaining == 0, CancellationToken.None).ConfigureAwait(false);
                    }
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(CloseTimeout);
                var status = _violated ? WebSocketCloseStatus.InvalidMessageType : WebSocketCloseStatus.NormalClosure;
                await _socket.CloseOutputAsync(status, null, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The connection is gone; the receive side ends too.
        }

        await reader.CompleteAsync().ConfigureAwait(false);
    }
}
