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
/// <param name="MessagesDropped">Messages not delivered, every reason but <see cref="DropReason.NoSubscribers"/> (the sum of the others in <paramref name="Dropped"/>).</param>
/// <param name="ProtocolErrors">Connections closed for a protocol violation.</param>
/// <param name="ConnectionsTotal">Connections accepted since start.</param>
/// <param name="ConnectionsRefused">Connections closed at accept by a limit or an address ban.</param>
/// <param name="Dropped">Messages not delivered since start, for each reason (every reason present, 0 included).</param>
/// <param name="InternalErrors">Connections closed by an unexpected exception (logged at Error with the stack).</param>
/// <param name="SlowConsumersClosed">Connections closed because their socket took nothing for <c>Broker:WriteTimeoutSeconds</c>.</param>
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
    long ConnectionsRefused,
    IReadOnlyDictionary<DropReason, long> Dropped,
    long InternalErrors,
    long SlowConsumersClosed);
