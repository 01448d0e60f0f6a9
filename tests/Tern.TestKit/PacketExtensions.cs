using System.Text;
using Tern.Protocol;

namespace Tern.TestKit;

public static class PacketExtensions
{
    /// <summary>The payload decoded as UTF-8.</summary>
    public static string PayloadText(this PublishPacket packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        return Encoding.UTF8.GetString(packet.Payload.Span);
    }

    /// <summary>A will message with a UTF-8 payload.</summary>
    public static WillMessage Will(string topic, string payload, MqttQoS qos = MqttQoS.AtMostOnce, bool retain = false) =>
        new() { Topic = topic, Payload = Encoding.UTF8.GetBytes(payload), QoS = qos, Retain = retain };
}
