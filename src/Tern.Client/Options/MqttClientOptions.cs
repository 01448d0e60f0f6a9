using System.Text;
using Tern.Protocol;

namespace Tern.Client;

/// <summary>
/// Client configuration, one property per field of esp-mqtt's <c>esp_mqtt_client_config_t</c>
/// (see docs/client.md for the mapping). Read again at every connect attempt, so a
/// <see cref="MqttClient.BeforeConnect"/> handler may change it, as esp-mqtt allows.
/// </summary>
public sealed class MqttClientOptions
{
    /// <summary>
    /// <c>mqtt://</c>, <c>mqtts://</c>, <c>ws://</c> or <c>wss://</c>, optionally with <c>user:pass@</c>,
    /// a port and (WebSocket) a path. Takes precedence over <see cref="Host"/> and <see cref="Port"/>.
    /// </summary>
    public string? Uri { get; set; }

    /// <summary>Broker host name or IP address, used when <see cref="Uri"/> is not set.</summary>
    public string? Host { get; set; }

    /// <summary>Broker port; 0 picks the transport's default (1883, 8883, 80, 443).</summary>
    public int Port { get; set; }

    /// <summary>Overrides the transport the URI scheme selects (esp-mqtt <c>transport</c>).</summary>
    public MqttTransport? Transport { get; set; }

    /// <summary>HTTP path for WebSocket transports when the URI has none.</summary>
    public string WebSocketPath { get; set; } = "/mqtt";

    /// <summary>
    /// Client identifier. Null generates <c>tern-</c> + 16 random hex digits once per client
    /// instance (stable across its reconnects); set it explicitly for persistent sessions.
    /// </summary>
    public string? ClientId { get; set; }

    public string? Username { get; set; }

    public string? Password { get; set; }

    public string? LastWillTopic { get; set; }

    public ReadOnlyMemory<byte> LastWillMessage { get; set; }

    /// <summary>The will message as UTF-8 text (a view of <see cref="LastWillMessage"/>).</summary>
    public string LastWillText
    {
        get => Encoding.UTF8.GetString(LastWillMessage.Span);
        set => LastWillMessage = Encoding.UTF8.GetBytes(value);
    }

    public MqttQoS LastWillQoS { get; set; }

    public bool LastWillRetain { get; set; }

    /// <summary>MQTT 5 will properties (will delay, content type, ...).</summary>
    public MqttProperties? LastWillProperties { get; set; }

    /// <summary>Clean session / clean start; true by default (esp-mqtt <c>disable_clean_session</c> inverted).</summary>
    public bool CleanSession { get; set; } = true;

    /// <summary>Keep alive interval; 120 s as in esp-mqtt. Zero means the default, as there.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>The only way to turn keep alive off (sends keep alive 0), as in esp-mqtt.</summary>
    public bool DisableKeepAlive { get; set; }

    /// <summary>Reconnect after a lost connection (esp-mqtt <c>disable_auto_reconnect</c> inverted).</summary>
    public bool AutoReconnect { get; set; } = true;

    /// <summary>First reconnect delay; doubles per failed attempt up to <see cref="MaxReconnectDelay"/>, with jitter.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Upper bound of the backoff (esp-mqtt <c>reconnect_timeout_ms</c>, 10 s).</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Any object, handed back in every event (esp-mqtt <c>user_context</c>).</summary>
    public object? UserContext { get; set; }

    /// <summary>Largest payload chunk of one <see cref="MqttClient.Data"/> event (esp-mqtt <c>buffer_size</c>).</summary>
    public int BufferSize { get; set; } = 1024;

    /// <summary>PEM CA certificate(s) that the server certificate must chain to; null uses the system store.</summary>
    public string? ServerCertificatePem { get; set; }

    /// <summary>PEM client certificate for mutual TLS; needs <see cref="ClientKeyPem"/>.</summary>
    public string? ClientCertificatePem { get; set; }

    /// <summary>PEM private key (PKCS#8, RSA or EC) of <see cref="ClientCertificatePem"/>.</summary>
    public string? ClientKeyPem { get; set; }

    /// <summary>Accept a server certificate whose name does not match the host (esp-mqtt <c>skip_cert_common_name_check</c>).</summary>
    public bool SkipCertificateCommonNameCheck { get; set; }

    /// <summary>Accept any server certificate. For tests only.</summary>
    public bool AllowUntrustedCertificates { get; set; }

    /// <summary>3.1.1 by default; 3.1 and 5.0 are supported.</summary>
    public MqttProtocolVersion ProtocolVersion { get; set; } = MqttProtocolVersion.V311;

    /// <summary>
    /// Sends the MQTT 3.1/3.1.1 protocol level with its high bit set (0x83/0x84), Mosquitto's bridge
    /// convention (<c>try_private</c>): a broker that knows it does not send back what this client
    /// published. Brokers that do not know it refuse the connection. Ignored with MQTT 5.
    /// </summary>
    public bool BridgeProtocolLevel { get; set; }

    /// <summary>
    /// Called on the connection's read loop with each new message from the server before this client
    /// acknowledges it (PUBACK, PUBREC): a QoS 1/2 message handed on from here is acknowledged only once
    /// the handler returned, so a crash before then has the server send it again. It must not block;
    /// an exception from it closes the connection and the message comes again. Events still follow.
    /// </summary>
    public Action<MqttMessage>? BeforeAcknowledge { get; set; }

    /// <summary>MQTT 5 CONNECT session expiry interval in seconds.</summary>
    public uint? SessionExpiryInterval { get; set; }

    /// <summary>MQTT 5 CONNECT receive maximum (QoS 1/2 publishes the server may have in flight to us).</summary>
    public ushort? ReceiveMaximum { get; set; }

    /// <summary>MQTT 5 CONNECT maximum packet size; also the largest packet this client accepts.</summary>
    public uint? MaximumPacketSize { get; set; }

    /// <summary>MQTT 5 CONNECT topic alias maximum (aliases the server may use towards us).</summary>
    public ushort? TopicAliasMaximum { get; set; }

    /// <summary>MQTT 5 CONNECT user properties.</summary>
    public IReadOnlyList<MqttUserProperty>? UserProperties { get; set; }

    /// <summary>Most messages the outbox holds (QoS 1/2 not yet acknowledged, stored QoS 0).</summary>
    public int OutboxLimit { get; set; } = 1000;

    public OutboxOverflowPolicy OutboxOverflow { get; set; } = OutboxOverflowPolicy.RejectNew;

    /// <summary>Bound on connecting, the CONNACK, a flush and a ping answer (esp-mqtt <c>timeout_ms</c>).</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Capacity of the channel behind <see cref="MqttClient.ReadMessagesAsync"/>. When full, reading
    /// from the socket waits: TCP backpressure rather than loss.
    /// </summary>
    public int MessageChannelCapacity { get; set; } = 1024;
}
