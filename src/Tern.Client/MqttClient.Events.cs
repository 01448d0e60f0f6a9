using System.Threading.Channels;

namespace Tern.Client;

public sealed partial class MqttClient
{
    /// <summary>MQTT_EVENT_BEFORE_CONNECT: before each attempt; the attempt waits for the handlers.</summary>
    public event EventHandler<BeforeConnectEventArgs>? BeforeConnect;

    /// <summary>MQTT_EVENT_CONNECTED.</summary>
    public event EventHandler<ConnectedEventArgs>? Connected;

    /// <summary>MQTT_EVENT_DISCONNECTED (not after StopAsync).</summary>
    public event EventHandler<DisconnectedEventArgs>? Disconnected;

    /// <summary>MQTT_EVENT_SUBSCRIBED.</summary>
    public event EventHandler<SubscribedEventArgs>? Subscribed;

    /// <summary>MQTT_EVENT_UNSUBSCRIBED.</summary>
    public event EventHandler<UnsubscribedEventArgs>? Unsubscribed;

    /// <summary>MQTT_EVENT_PUBLISHED: a QoS 1/2 message was acknowledged.</summary>
    public event EventHandler<PublishedEventArgs>? Published;

    /// <summary>MQTT_EVENT_DATA: one payload chunk of an incoming message.</summary>
    public event EventHandler<DataEventArgs>? Data;

    /// <summary>MQTT_EVENT_ERROR.</summary>
    public event EventHandler<MqttErrorEventArgs>? Error;

    /// <summary>MQTT_EVENT_DELETED: a queued message was dropped.</summary>
    public event EventHandler<DeletedEventArgs>? Deleted;

    /// <summary>
    /// Whole incoming messages, for code that prefers to await. Messages are captured from the first
    /// call on; the channel is bounded (<see cref="MqttClientOptions.MessageChannelCapacity"/>) and a
    /// full channel pauses reading from the socket. Ends when the client is disposed.
    /// </summary>
    public IAsyncEnumerable<MqttMessage> ReadMessagesAsync(CancellationToken cancellationToken = default)
    {
        Channel<MqttMessage> channel;
        lock (_gate)
        {
            channel = _messages ??= Channel.CreateBounded<MqttMessage>(new BoundedChannelOptions(Math.Max(1, Options.MessageChannelCapacity))
            {
                FullMode = BoundedChannelFullMode.Wait,
            });
            if (_disposed)
            {
                channel.Writer.TryComplete();
            }
        }

        // Not an iterator itself: the channel must exist from this call on, not from the first MoveNextAsync.
        return channel.Reader.ReadAllAsync(cancellationToken);
    }

    /// <summary>Runs on the dispatcher task only.</summary>
    private void Raise(MqttClientEventArgs args)
    {
        switch (args)
        {
            case DataEventArgs e: Data?.Invoke(this, e); break;
            case PublishedEventArgs e: Published?.Invoke(this, e); break;
            case ConnectedEventArgs e: Connected?.Invoke(this, e); break;
            case DisconnectedEventArgs e: Disconnected?.Invoke(this, e); break;
            case SubscribedEventArgs e: Subscribed?.Invoke(this, e); break;
            case UnsubscribedEventArgs e: Unsubscribed?.Invoke(this, e); break;
            case MqttErrorEventArgs e: Error?.Invoke(this, e); break;
            case DeletedEventArgs e: Deleted?.Invoke(this, e); break;
            case BeforeConnectEventArgs e: BeforeConnect?.Invoke(this, e); break;
        }
    }
}
