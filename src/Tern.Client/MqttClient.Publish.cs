using System.Text;
using Tern.Protocol;

namespace Tern.Client;

public sealed partial class MqttClient
{
    /// <summary>
    /// esp_mqtt_client_publish: QoS 0 is sent at once and returns 0, or -1 when not connected; QoS 1/2
    /// go to the outbox (also while offline) and return the message id, or -2 when the outbox is full.
    /// Returns -1, as esp-mqtt does, when the connected MQTT 5 server announced that it will not take
    /// the message (QoS above its maximum, retain not available, packet above its maximum size).
    /// Never blocks. MQTT 5 <paramref name="properties"/> are ignored on older protocols.
    /// </summary>
    /// <exception cref="ArgumentException">The topic is not a valid topic name; the message says why.</exception>
    public int Publish(string topic, ReadOnlyMemory<byte> payload, MqttQoS qos = MqttQoS.AtMostOnce, bool retain = false, MqttProperties? properties = null)
        => PublishCore(topic, payload, qos, retain, properties, store: false, completion: null);

    /// <summary>Publishes <paramref name="payload"/> as UTF-8 text.</summary>
    public int Publish(string topic, string payload, MqttQoS qos = MqttQoS.AtMostOnce, bool retain = false, MqttProperties? properties = null)
        => Publish(topic, Encoding.UTF8.GetBytes(payload), qos, retain, properties);

    /// <summary>
    /// esp_mqtt_client_enqueue: puts the message into the outbox and wakes the sender at once (esp-mqtt
    /// waits for its next poll). With <paramref name="store"/>, QoS 0 is queued too, even while offline;
    /// without it, QoS 0 behaves as <see cref="Publish(string, ReadOnlyMemory{byte}, MqttQoS, bool, MqttProperties?)"/>.
    /// </summary>
    public int Enqueue(string topic, ReadOnlyMemory<byte> payload, MqttQoS qos, bool retain, bool store, MqttProperties? properties = null)
        => PublishCore(topic, payload, qos, retain, properties, store, completion: null);

    /// <summary>Enqueues <paramref name="payload"/> as UTF-8 text.</summary>
    public int Enqueue(string topic, string payload, MqttQoS qos, bool retain, bool store, MqttProperties? properties = null)
        => Enqueue(topic, Encoding.UTF8.GetBytes(payload), qos, retain, store, properties);

    /// <summary>
    /// Publishes and completes on PUBACK (QoS 1), PUBCOMP (QoS 2) or once written (QoS 0), with the
    /// server's reason code. A QoS 1/2 message waits in the outbox across reconnects; cancelling the
    /// token stops waiting, not the delivery.
    /// </summary>
    /// <exception cref="MqttClientException">
    /// QoS 0 while not connected, the outbox is full, or the MQTT 5 server announced in CONNACK that it
    /// will not take the message (<see cref="MqttClientException.ReasonCode"/> says which limit).
    /// </exception>
    public Task<PublishResult> PublishAsync(
        string topic, ReadOnlyMemory<byte> payload, MqttQoS qos = MqttQoS.AtMostOnce, bool retain = false,
        MqttProperties? properties = null, CancellationToken cancellationToken = default)
    {
        var completion = new TaskCompletionSource<PublishResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        int id = PublishCore(topic, payload, qos, retain, properties, store: false, completion);
        if (id < 0 && completion.Task.IsCompleted)
        {
            return completion.Task; // refused by the server's limits, with the reason
        }

        return id switch
        {
            -1 => Task.FromException<PublishResult>(new MqttClientException("Not connected: a QoS 0 message cannot be queued.")),
            -2 => Task.FromException<PublishResult>(new MqttClientException($"The outbox is full ({Options.OutboxLimit} messages).")),
            _ => completion.Task.WaitAsync(cancellationToken),
        };
    }

    /// <summary>Publishes UTF-8 text; see <see cref="PublishAsync(string, ReadOnlyMemory{byte}, MqttQoS, bool, MqttProperties?, CancellationToken)"/>.</summary>
    public Task<PublishResult> PublishAsync(
        string topic, string payload, MqttQoS qos = MqttQoS.AtMostOnce, bool retain = false,
        MqttProperties? properties = null, CancellationToken cancellationToken = default)
        => PublishAsync(topic, Encoding.UTF8.GetBytes(payload), qos, retain, properties, cancellationToken);

    private int PublishCore(
        string topic, ReadOnlyMemory<byte> payload, MqttQoS qos, bool retain, MqttProperties? properties,
        bool store, TaskCompletionSource<PublishResult>? completion)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (TopicErrors.ForName(topic) is { } invalid)
        {
            throw new ArgumentException(invalid, nameof(topic));
        }

        if (qos > MqttQoS.ExactlyOnce)
        {
            throw new ArgumentOutOfRangeException(nameof(qos), qos, "QoS is 0, 1 or 2.");
        }

        var packet = new PublishPacket
        {
            Topic = topic,
            Payload = payload,
            QoS = qos,
            Retain = retain,
            Properties = Options.ProtocolVersion == MqttProtocolVersion.V500 ? properties : null,
        };
        OutboxItem? dropped = null;
        int result;
        lock (_gate)
        {
            if (_connection is { } current && CheckServerLimits(current, packet) is { } refused)
            {
                completion?.TrySetException(refused);
                return -1;
            }

            if (qos == MqttQoS.AtMostOnce && !store)
            {
                if (_connection is not { } connection)
                {
                    return -1;
                }

                connection.Enqueue(new SendItem(packet, completion));
                return 0;
            }

            if (_outbox.Count >= Math.Max(1, Options.OutboxLimit))
            {
                if (Options.OutboxOverflow == OutboxOverflowPolicy.RejectNew || _outbox.Oldest is not { } oldest)
                {
                    return -2;
                }

                RemoveFromOutbox(oldest);
                dropped = oldest;
            }

            ushort id = 0;
            if (qos != MqttQoS.AtMostOnce)
            {
                id = _ids.Allocate();
                if (id == 0)
                {
                    return -2; // all 65535 packet ids are in flight
                }

                packet = packet with { PacketId = id };
            }

            _outbox.Add(new OutboxItem(packet, completion));
            _connection?.Signal();
            result = id;
        }

        if (dropped is not null)
        {
            _events.Post(new DeletedEventArgs(this, dropped.PacketId, dropped.Packet.Topic, dropped.Packet.QoS));
            dropped.Completion?.TrySetException(new MqttClientException("Dropped from the full outbox (OutboxOverflowPolicy.DropOldest)."));
        }

        return result;
    }

    /// <summary>
    /// Why the server will not take <paramref name="packet"/>, from the limits its MQTT 5 CONNACK
    /// announced (as esp-mqtt and mosquitto_pub check them), or null. Sending it anyway would only get
    /// the connection closed.
    /// </summary>
    private static MqttClientException? CheckServerLimits(Connection connection, PublishPacket packet)
    {
        if (packet.QoS > connection.ServerMaximumQoS)
        {
            return new MqttClientException(
                $"QoS {(int)packet.QoS} is above the server's maximum QoS {(int)connection.ServerMaximumQoS} (from its CONNACK).")
            {
                ReasonCode = ReasonCode.QoSNotSupported,
            };
        }

        if (packet.Retain && !connection.ServerRetainAvailable)
        {
            return new MqttClientException("The server does not accept retained messages (Retain Available = 0 in its CONNACK).")
            {
                ReasonCode = ReasonCode.RetainNotSupported,
            };
        }

        if (connection.ServerMaxPacketSize < int.MaxValue)
        {
            int size = MqttEncoder.GetSize(packet, connection.Version);
            if (size > connection.ServerMaxPacketSize)
            {
                return new MqttClientException(
                    $"The message is {size} bytes as a PUBLISH packet, above the server's maximum packet size of {connection.ServerMaxPacketSize} bytes (from its CONNACK).")
                {
                    ReasonCode = ReasonCode.PacketTooLarge,
                };
            }
        }

        return null;
    }
}
