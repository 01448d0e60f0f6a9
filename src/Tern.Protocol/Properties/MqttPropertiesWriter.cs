namespace Tern.Protocol;

/// <summary>
/// Encodes MQTT 5.0 properties in ascending identifier order; user properties and subscription
/// identifiers keep their given order. Writes whatever is set: the caller picks what a packet carries.
/// </summary>
internal static class MqttPropertiesWriter
{
    /// <summary>Bytes of the property list without its length prefix.</summary>
    public static int GetContentSize(MqttProperties? p)
    {
        if (p is null)
        {
            return 0;
        }

        int n = 0;
        n += p.PayloadFormatIndicator is null ? 0 : 2;
        n += p.MessageExpiryInterval is null ? 0 : 5;
        n += StringSize(p.ContentType) + StringSize(p.ResponseTopic);
        n += p.CorrelationData is { } cd ? 3 + cd.Length : 0;
        if (p.SubscriptionIdentifiers is { } ids)
        {
            for (int i = 0; i < ids.Count; i++)
            {
                n += 1 + VariableByteInteger.GetSize(checked((int)ids[i]));
            }
        }

        n += p.SessionExpiryInterval is null ? 0 : 5;
        n += StringSize(p.AssignedClientIdentifier);
        n += p.ServerKeepAlive is null ? 0 : 3;
        n += StringSize(p.AuthenticationMethod);
        n += p.AuthenticationData is { } ad ? 3 + ad.Length : 0;
        n += p.RequestProblemInformation is null ? 0 : 2;
        n += p.WillDelayInterval is null ? 0 : 5;
        n += p.RequestResponseInformation is null ? 0 : 2;
        n += StringSize(p.ResponseInformation) + StringSize(p.ServerReference) + StringSize(p.ReasonString);
        n += p.ReceiveMaximum is null ? 0 : 3;
        n += p.TopicAliasMaximum is null ? 0 : 3;
        n += p.TopicAlias is null ? 0 : 3;
        n += p.MaximumQoS is null ? 0 : 2;
        n += p.RetainAvailable is null ? 0 : 2;
        if (p.UserProperties is { } ups)
        {
            for (int i = 0; i < ups.Count; i++)
            {
                n += 1 + MqttWriter.GetStringSize(ups[i].Name) + MqttWriter.GetStringSize(ups[i].Value);
            }
        }

        n += p.MaximumPacketSize is null ? 0 : 5;
        n += p.WildcardSubscriptionAvailable is null ? 0 : 2;
        n += p.SubscriptionIdentifierAvailable is null ? 0 : 2;
        n += p.SharedSubscriptionAvailable is null ? 0 : 2;
        return n;
    }

    /// <summary>Bytes of the property list including its variable byte integer length.</summary>
    public static int GetSize(int contentSize) => VariableByteInteger.GetSize(contentSize) + contentSize;

    /// <summary>Writes the length prefix and the properties; <paramref name="contentSize"/> is from <see cref="GetContentSize"/>.</summary>
    public static void Write(ref MqttWriter w, MqttProperties? p, int contentSize)
    {
        w.WriteVariableByteInteger(contentSize);
        if (p is null || contentSize == 0)
        {
            return;
        }

        WriteByte(ref w, PropertyId.PayloadFormatIndicator, p.PayloadFormatIndicator);
        WriteUInt32(ref w, PropertyId.MessageExpiryInterval, p.MessageExpiryInterval);
        WriteString(ref w, PropertyId.ContentType, p.ContentType);
        WriteString(ref w, PropertyId.ResponseTopic, p.ResponseTopic);
        WriteBinary(ref w, PropertyId.CorrelationData, p.CorrelationData);
        if (p.SubscriptionIdentifiers is { } ids)
        {
            for (int i = 0; i < ids.Count; i++)
            {
                w.WriteByte((byte)PropertyId.SubscriptionIdentifier);
                w.WriteVariableByteInteger((int)ids[i]);
            }
        }

        WriteUInt32(ref w, PropertyId.SessionExpiryInterval, p.SessionExpiryInterval);
        WriteString(ref w, PropertyId.AssignedClientIdentifier, p.AssignedClientIdentifier);
        WriteUInt16(ref w, PropertyId.ServerKeepAlive, p.ServerKeepAlive);
        WriteString(ref w, PropertyId.AuthenticationMethod, p.AuthenticationMethod);
        WriteBinary(ref w, PropertyId.AuthenticationData, p.AuthenticationData);
        WriteByte(ref w, PropertyId.RequestProblemInformation, p.RequestProblemInformation);
        WriteUInt32(ref w, PropertyId.WillDelayInterval, p.WillDelayInterval);
        WriteByte(ref w, PropertyId.RequestResponseInformation, p.RequestResponseInformation);
        WriteString(ref w, PropertyId.ResponseInformation, p.ResponseInformation);
        WriteString(ref w, PropertyId.ServerReference, p.ServerReference);
        WriteString(ref w, PropertyId.ReasonString, p.ReasonString);
        WriteUInt16(ref w, PropertyId.ReceiveMaximum, p.ReceiveMaximum);
        WriteUInt16(ref w, PropertyId.TopicAliasMaximum, p.TopicAliasMaximum);
        WriteUInt16(ref w, PropertyId.TopicAlias, p.TopicAlias);
        WriteByte(ref w, PropertyId.MaximumQoS, p.MaximumQoS);
        WriteByte(ref w, PropertyId.RetainAvailable, p.RetainAvailable);
        if (p.UserProperties is { } ups)
        {
            for (int i = 0; i < ups.Count; i++)
            {
                w.WriteByte((byte)PropertyId.UserProperty);
                w.WriteString(ups[i].Name);
                w.WriteString(ups[i].Value);
            }
        }

        WriteUInt32(ref w, PropertyId.MaximumPacketSize, p.MaximumPacketSize);
        WriteByte(ref w, PropertyId.WildcardSubscriptionAvailable, p.WildcardSubscriptionAvailable);
        WriteByte(ref w, PropertyId.SubscriptionIdentifierAvailable, p.SubscriptionIdentifierAvailable);
        WriteByte(ref w, PropertyId.SharedSubscriptionAvailable, p.SharedSubscriptionAvailable);
    }

    private static int StringSize(string? s) => s is null ? 0 : 1 + MqttWriter.GetStringSize(s);

    private static void WriteByte(ref MqttWriter w, PropertyId id, byte? value)
    {
        if (value is { } v)
        {
            w.WriteByte((byte)id);
            w.WriteByte(v);
        }
    }

    private static void WriteUInt16(ref MqttWriter w, PropertyId id, ushort? value)
    {
        if (value is { } v)
        {
            w.WriteByte((byte)id);
            w.WriteUInt16(v);
        }
    }

    private static void WriteUInt32(ref MqttWriter w, PropertyId id, uint? value)
    {
        if (value is { } v)
        {
            w.WriteByte((byte)id);
            w.WriteUInt32(v);
        }
    }

    private static void WriteString(ref MqttWriter w, PropertyId id, string? value)
    {
        if (value is not null)
        {
            w.WriteByte((byte)id);
            w.WriteString(value);
        }
    }

    private static void WriteBinary(ref MqttWriter w, PropertyId id, ReadOnlyMemory<byte>? value)
    {
        if (value is { } v)
        {
            w.WriteByte((byte)id);
            w.WriteBinary(v.Span);
        }
    }
}
