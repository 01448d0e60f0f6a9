namespace Tern.Protocol;

/// <summary>
/// Decodes DISCONNECT (spec 3.14). Before 5.0 it has no content (the caller's EnsureEnd rejects
/// any byte). In 5.0 an empty body means Normal disconnection, one byte is the reason code alone.
/// </summary>
internal static class DisconnectDecoder
{
    public static DisconnectPacket Decode(ref MqttReader r, MqttProtocolVersion version)
    {
        if (version != MqttProtocolVersion.V500 || r.End)
        {
            return DisconnectPacket.Normal;
        }

        var reasonCode = (ReasonCode)r.ReadByte();
        MqttProperties? properties = r.End ? null : MqttPropertiesReader.Read(ref r, PropertyContext.Disconnect);
        return new DisconnectPacket { ReasonCode = reasonCode, Properties = properties };
    }
}
