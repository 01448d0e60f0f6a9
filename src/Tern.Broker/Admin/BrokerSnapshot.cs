namespace Tern.Broker;

/// <summary>The broker's counters at one moment: what <c>$SYS/broker/...</c> publishes and the REST API returns.</summary>
/// <param name="Version">Broker version, e.g. <c>0.1.0</c>.</param>
/// <param name="Uptime">Time since the broker was created.</param>
/// <param name="ConnectedClients">Connections that completed CONNECT.</param>
/// <param name="Sessions">Sessions held, connected or not.</param>
/// <param name="Subscriptions">Subscriptions of all sessions.</param>
/// <param name="RetainedMessages">Retained messages stored, the broker's own <c>$SYS</c> topics included (what <c>$SYS/broker/retained messages/count</c> publishes; <see cref="MqttBroker.CountRetainedMessages"/> leaves <c>$</c> topics out).</param>
/// <param name="MessagesReceived">PUBLISH packets received from clients since start.</param>
/// <param name="MessagesSent">PUBLISH packets sent to clients since start.</param>
/// <param name="BytesReceived">Bytes received from clients since start.</param>
/// <param name="BytesSent">Bytes sent to clients since start.</param>
/// <param name="MessagesDropped">Messages dropped for slow or offline subscribers (queue bounds).</param>
/// <param name="ProtocolErrors">Connections closed for a protocol violation.</param>
/// <param name="ConnectionsTotal">Connections accepted since start.</param>
/// <param name="ConnectionsRefused">Connections closed at accept by a limit or an address ban.</param>
public sealed record BrokerSnapshot(
    string Version,
    TimeSpan Uptime,
    int ConnectedClients,
    int Sessions,
    int Subscriptions,
    int RetainedMessages,
    long MessagesReceived,
    long MessagesSent,
    long BytesReceived,
    long BytesSent,
    long MessagesDropped,
    long ProtocolErrors,
    long ConnectionsTotal,
    long ConnectionsRefused);
