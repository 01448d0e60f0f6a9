namespace Tern.Client;

/// <summary>How the client reaches the broker (esp-mqtt <c>esp_mqtt_transport_t</c>).</summary>
public enum MqttTransport
{
    /// <summary><c>mqtt://</c>, default port 1883.</summary>
    Tcp,
    /// <summary><c>mqtts://</c>, TLS, default port 8883.</summary>
    Ssl,
    /// <summary><c>ws://</c>, default port 80.</summary>
    WebSocket,
    /// <summary><c>wss://</c>, default port 443.</summary>
    SecureWebSocket,
}

/// <summary>What <see cref="MqttClient.Publish(string, ReadOnlyMemory{byte}, Tern.Protocol.MqttQoS, bool, Tern.Protocol.MqttProperties?)"/> does when the outbox is full.</summary>
public enum OutboxOverflowPolicy
{
    /// <summary>Refuse the new message: the call returns -2 (as esp-mqtt does).</summary>
    RejectNew,
    /// <summary>Drop the oldest queued message, raise <see cref="MqttClient.Deleted"/> for it and accept the new one.</summary>
    DropOldest,
}

/// <summary>The client's connection state (esp-mqtt <c>esp_mqtt_client_get_state</c>).</summary>
public enum MqttClientState
{
    NotStarted,
    /// <summary>Started and connecting, or disconnected by <see cref="MqttClient.DisconnectAsync"/> / with auto reconnect off.</summary>
    Disconnected,
    Connected,
    /// <summary>Lost the connection; the next attempt comes after the backoff delay.</summary>
    WaitingReconnect,
}
