namespace Tern.Protocol;

/// <summary>The protocol level byte of CONNECT.</summary>
public enum MqttProtocolVersion : byte
{
    /// <summary>MQTT 3.1, protocol name <c>MQIsdp</c>.</summary>
    V310 = 3,
    /// <summary>MQTT 3.1.1, protocol name <c>MQTT</c>.</summary>
    V311 = 4,
    /// <summary>MQTT 5.0.</summary>
    V500 = 5,
}
