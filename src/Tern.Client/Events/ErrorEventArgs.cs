using Tern.Protocol;

namespace Tern.Client;

/// <summary>Kind of failure (esp-mqtt <c>esp_mqtt_error_type_t</c>).</summary>
public enum MqttErrorType
{
    None,
    /// <summary>Connecting, reading or writing the socket failed (esp-mqtt <c>MQTT_ERROR_TYPE_TCP_TRANSPORT</c>).</summary>
    TcpTransport,
    /// <summary>The TLS handshake failed, e.g. an untrusted server certificate.</summary>
    Tls,
    /// <summary>CONNACK refused the connection: see <see cref="MqttErrorEventArgs.ConnectReturnCode"/> / <see cref="MqttErrorEventArgs.ReasonCode"/>.</summary>
    ConnectionRefused,
    /// <summary>SUBACK refused at least one filter.</summary>
    SubscribeFailed,
    /// <summary>The server sent something that breaks the protocol, or did not answer in time.</summary>
    Protocol,
}

/// <summary>Something went wrong; a lost connection is followed by <see cref="MqttClient.Disconnected"/>.</summary>
public sealed class MqttErrorEventArgs(MqttClient client, MqttErrorType errorType, string message, Exception? exception = null)
    : MqttClientEventArgs(client)
{
    public MqttErrorType ErrorType { get; } = errorType;

    public string Message { get; } = message;

    public Exception? Exception { get; } = exception;

    /// <summary>3.1/3.1.1 CONNACK return code when <see cref="ErrorType"/> is ConnectionRefused.</summary>
    public ConnectReturnCode? ConnectReturnCode { get; init; }

    /// <summary>MQTT 5 reason code (CONNACK refusal, SUBACK failure, DISCONNECT).</summary>
    public ReasonCode? ReasonCode { get; init; }

    /// <summary>SUBACK message id when <see cref="ErrorType"/> is SubscribeFailed.</summary>
    public int MessageId { get; init; }
}
