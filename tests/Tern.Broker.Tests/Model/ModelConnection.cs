using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Tern.Protocol;

namespace Tern.Broker.Tests.Model;

/// <summary>
/// One TCP connection of a model client. A background loop decodes what the broker sends and hands
/// each packet, in order, to <see cref="ModelConnection.OnPacket"/>; sends are serialised. Unlike
/// Tern.Client it never reconnects or resends on its own: the actor decides everything.
/// </summary>
internal sealed class ModelConnection : IAsyncDisposable
{
    private static int s_ids;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _dispose = new();

    private ModelConnection(Socket socket, MqttProtocolVersion version)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        Version = version;
        Id = Interlocked.Increment(ref s_ids);
    }

    /// <summary>Process-wide number, shown in traces as <c>#id</c>.</summary>
    public int Id { get; }

    public MqttProtocolVersion Version { get; }

    /// <summary>Handles each decoded packet on the read loop; the loop waits for it before decoding the next.</summary>
    public Func<ModelConnection, MqttPacket, ValueTask>? OnPacket { get; set; }

    /// <summary>Completes when the socket is closed, by either side.</summary>
    public Task Closed => _closed.Task;

    public bool IsClosed => _closed.Task.IsCompleted;

    /// <summary>Why the read loop ended.</summary>
    public string? CloseReason { get; private set; }

    /// <summary>We closed it (abort, disconnect, dispose): a close the model expects.</summary>
    public bool ClosedByUs { get; private set; }

    /// <summary>The broker closed it while we had not started closing it (set when the read loop ends).</summary>
    public bool ClosedByBroker { get; private set; }

    public static async Task<ModelConnection> OpenAsync(int port, MqttProtocolVersion version, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new ModelConnection(socket, version);
    }

    /// <summary>Starts reading; call after <see cref="OnPacket"/> is set.</summary>
    public void Start() => _ = Task.Run(ReadLoopAsync);

    /// <summary>Encodes and writes <paramref name="packet"/>; false when the connection is gone.</summary>
    public async ValueTask<bool> SendAsync(MqttPacket packet)
    {
        var bytes = MqttEncoder.ToArray(packet, Version);
        try
        {
            await _writeLock.WaitAsync(_dispose.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        try
        {
            if (IsClosed)
            {
                return false;
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_dispose.Token);
            cts.CancelAfter(ModelTimeouts.Send);
            await _stream.WriteAsync(bytes, cts.Token);
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Closes without DISCONNECT: FIN as an exiting process would, or RST when <paramref name="reset"/>.</summary>
    public async Task AbortAsync(bool reset)
    {
        ClosedByUs = true;
        try
        {
            if (reset)
            {
                _socket.LingerState = new LingerOption(true, 0);
            }
            else
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed by the broker.
        }

        await DisposeAsync();
    }

    /// <summary>DISCONNECT, half-close, and wait (bounded) for the broker to close.</summary>
    public async Task<bool> DisconnectAsync()
    {
        ClosedByUs = true;
        await SendAsync(DisconnectPacket.Normal);
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed by the broker.
        }

        var closed = true;
        try
        {
            await _closed.Task.WaitAsync(ModelTimeouts.Close);
        }
        catch (TimeoutException)
        {
            closed = false;
        }

        await DisposeAsync();
        return closed;
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_dispose.Token);
                var buffer = result.Buffer;
                while (MqttDecoder.TryRead(ref buffer, Version, int.MaxValue, out var packet) && packet is not null)
                {
                    if (OnPacket is { } handler)
                    {
                        await handler(this, packet);
                    }
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    CloseReason = ClosedByUs ? "closed by the model"
                        : buffer.IsEmpty ? "closed by the broker"
                        : $"closed by the broker in the middle of a packet ({buffer.Length} bytes left)";
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            CloseReason = "closed by the model";
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            CloseReason = ClosedByUs ? "closed by the model" : "reset: " + e.Message;
        }
        catch (MqttProtocolException e)
        {
            CloseReason = "the broker sent bytes the decoder rejects: " + e.Message;
        }
        finally
        {
            ClosedByBroker = !ClosedByUs;
            _closed.TrySetResult();
            await reader.CompleteAsync();
        }
    }

    /// <summary>Closes the socket; the read loop ends on its own (this may run on it, so it is not awaited).</summary>
    public async ValueTask DisposeAsync()
    {
        ClosedByUs = true;
        if (!_dispose.IsCancellationRequested)
        {
            await _dispose.CancelAsync();
        }

        _socket.Dispose();
    }
}
