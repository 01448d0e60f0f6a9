using Tern.Protocol;

namespace Tern.Client;

/// <summary>What every event carries, as esp-mqtt's <c>esp_mqtt_event_t</c> does (client, user context, protocol).</summary>
public abstract class MqttClientEventArgs : EventArgs
{
    protected MqttClientEventArgs(MqttClient client)
    {
        Client = client;
        UserContext = client.Options.UserContext;
        ProtocolVersion = client.Options.ProtocolVersion;
    }

    public MqttClient Client { get; }

    public object? UserContext { get; }

    public MqttProtocolVersion ProtocolVersion { get; }
}

/// <summary>Raised before each connect attempt; the handler may change <see cref="MqttClient.Options"/>.</summary>
public sealed class BeforeConnectEventArgs(MqttClient client) : MqttClientEventArgs(client)
{
    /// <summary>Completed by the dispatcher once the handlers ran, so the attempt sees their changes.</summary>
    internal TaskCompletionSource Handled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>CONNACK accepted.</summary>
public sealed class ConnectedEventArgs(MqttClient client, bool sessionPresent, MqttProperties? properties)
    : MqttClientEventArgs(client)
{
    public bool SessionPresent { get; } = sessionPresent;

    /// <summary>MQTT 5 CONNACK properties: the server's limits and capabilities.</summary>
    public MqttProperties? Properties { get; } = properties;
}

/// <summary>The connection ended (not raised by <see cref="MqttClient.StopAsync"/>, as in esp-mqtt).</summary>
public sealed class DisconnectedEventArgs(MqttClient client, bool clientInitiated, ReasonCode? reasonCode, string? reason, Exception? exception)
    : MqttClientEventArgs(client)
{
    /// <summary>True after <see cref="MqttClient.DisconnectAsync"/>.</summary>
    public bool ClientInitiated { get; } = clientInitiated;

    /// <summary>Reason code of a server DISCONNECT (MQTT 5), or null.</summary>
    public ReasonCode? ReasonCode { get; } = reasonCode;

    /// <summary>Human-readable reason: the server's DISCONNECT with its reason string, or what failed.</summary>
    public string? Reason { get; } = reason;

    /// <summary>
    /// What failed, or null. A server that closed the connection without DISCONNECT gives an
    /// <see cref="EndOfStreamException"/>.
    /// </summary>
    public Exception? Exception { get; } = exception;

    /// <summary>Properties of the server's DISCONNECT (MQTT 5): <c>ReasonString</c>, <c>ServerReference</c>, user properties.</summary>
    public MqttProperties? Properties { get; init; }
}

/// <summary>SUBACK received. A code of 0x80 or above means that filter was refused.</summary>
public sealed class SubscribedEventArgs(MqttClient client, int messageId, IReadOnlyList<byte> reasonCodes, MqttProperties? properties)
    : MqttClientEventArgs(client)
{
    public int MessageId { get; } = messageId;

    /// <summary>Granted QoS (0-2) or failure code per filter, in request order.</summary>
    public IReadOnlyList<byte> ReasonCodes { get; } = reasonCodes;

    public MqttProperties? Properties { get; } = properties;
}

/// <summary>UNSUBACK received.</summary>
public sealed class UnsubscribedEventArgs(MqttClient client, int messageId, IReadOnlyList<byte> reasonCodes)
    : MqttClientEventArgs(client)
{
    public int MessageId { get; } = messageId;

    /// <summary>MQTT 5 reason code per filter; empty before 5.0.</summary>
    public IReadOnlyList<byte> ReasonCodes { get; } = reasonCodes;
}

/// <summary>A QoS 1/2 publish was acknowledged (PUBACK or PUBCOMP).</summary>
public sealed class PublishedEventArgs(MqttClient client, int messageId, ReasonCode reasonCode)
    : MqttClientEventArgs(client)
{
    public int MessageId { get; } = messageId;

    public ReasonCode ReasonCode { get; } = reasonCode;
}

/// <summary>
/// A queued message was dropped without being acknowledged: outbox overflow, or the server announced
/// (MQTT 5 CONNACK) that it will not take it (QoS, retain or size above its limits).
/// </summary>
public sealed class DeletedEventArgs(MqttClient client, int messageId, string topic, MqttQoS qos)
    : MqttClientEventArgs(client)
{
    /// <summary>0 for QoS 0, as in esp-mqtt.</summary>
    public int MessageId { get; } = messageId;

    public string Topic { get; } = topic;

    public MqttQoS QoS { get; } = qos;
}
