using System.Diagnostics;
using System.Threading.Channels;

namespace Tern.Client;

/// <summary>
/// Raises events one at a time, in order, on one task that is not the I/O loop: a handler may call
/// Publish/Subscribe (they only enqueue) and a slow handler never stalls the socket.
/// </summary>
internal sealed class EventDispatcher
{
    private readonly Channel<MqttClientEventArgs> _queue =
        Channel.CreateUnbounded<MqttClientEventArgs>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Action<MqttClientEventArgs> _raise;
    private readonly Task _loop;

    public EventDispatcher(Action<MqttClientEventArgs> raise)
    {
        _raise = raise;
        _loop = Task.Run(RunAsync);
    }

    public void Post(MqttClientEventArgs args) => _queue.Writer.TryWrite(args);

    /// <summary>Stops accepting events and waits until the queued ones were raised.</summary>
    public Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        return _loop;
    }

    private async Task RunAsync()
    {
        await foreach (var args in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                _raise(args);
            }
            catch (Exception ex)
            {
                // A throwing handler must not end event delivery for the client's lifetime.
                Trace.TraceError($"Tern.Client event handler for {args.GetType().Name} threw: {ex}");
            }
            finally
            {
                (args as BeforeConnectEventArgs)?.Handled.TrySetResult();
            }
        }
    }
}
