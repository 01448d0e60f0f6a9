namespace Tern.Protocol;

/// <summary>Decodes AUTH (spec 3.15), which exists only in MQTT 5.0.</summary>
internal static class AuthDecoder
{
    public static AuthPacket Decode(ref MqttReader r, MqttProtocolVersion version)
    {
        if (version != MqttProtocolVersion.V500)
        {
            ThrowHelper.ThrowMalformed("AUTH exists only in MQTT 5.0 (packet type 15 is reserved before it).");
        }

        // An empty body means Success without properties (spec 3.15.2.1).
        if (r.End)
        {
            return new AuthPacket { ReasonCode = ReasonCode.Success };
        }

        var reasonCode = (ReasonCode)r.ReadByte();
        if (reasonCode is not (ReasonCode.Success or ReasonCode.ContinueAuthentication or ReasonCode.ReAuthenticate))
        {
            ThrowHelper.ThrowProtocolError($"AUTH reason code 0x{(byte)reasonCode:X2} is invalid [MQTT-3.15.2-1].");
        }

        MqttProperties? properties = r.End ? null : MqttPropertiesReader.Read(ref r, PropertyContext.Auth);
        return new AuthPacket { ReasonCode = reasonCode, Properties = properties };
    }
}
