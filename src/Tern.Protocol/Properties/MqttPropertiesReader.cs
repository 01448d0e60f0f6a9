namespace Tern.Protocol;

/// <summary>
/// Decodes an MQTT 5.0 property list (spec 2.2.2) and enforces the receiver's checks: identifiers
/// allowed in the packet (else malformed), no repeats of single-valued properties and legal values
/// (else protocol error), and the list staying inside its declared length.
/// </summary>
internal static class MqttPropertiesReader
{
    /// <summary>Reads the length prefix and the properties; returns null for an empty list.</summary>
    public static MqttProperties? Read(ref MqttReader r, PropertyContext context)
    {
        int length = r.ReadVariableByteInteger();
        if (length > r.Remaining)
        {
            ThrowHelper.ThrowMalformed("Property length runs past the end of the packet.");
        }

        if (length == 0)
        {
            return null;
        }

        long end = r.Consumed + length;
        ulong seen = 0;
        var bag = new PropertyBag();
        while (r.Consumed < end)
        {
            byte id = r.ReadByte();
            CheckIdentifier(context, id, ref seen);
            ReadValue(ref r, (PropertyId)id, ref bag);
            if (r.Consumed > end)
            {
                ThrowHelper.ThrowMalformed("A property runs past the property length.");
            }
        }

        return bag.Build();
    }

    private static void CheckIdentifier(PropertyContext context, byte id, ref ulong seen)
    {
        if (!PropertyRules.IsAllowed(context, id))
        {
            ThrowHelper.ThrowMalformed($"Property 0x{id:X2} is not allowed in {context}.");
        }

        ulong bit = 1UL << id;
        if ((seen & bit) != 0 && !PropertyRules.MayRepeat(context, id))
        {
            ThrowHelper.ThrowProtocolError($"Property {(PropertyId)id} appears more than once.");
        }

        seen |= bit;
    }

    private static void ReadValue(ref MqttReader r, PropertyId id, ref PropertyBag bag)
    {
        switch (id)
        {
            case PropertyId.PayloadFormatIndicator: bag.PayloadFormatIndicator = r.ReadByte(); break;
            case PropertyId.MessageExpiryInterval: bag.MessageExpiryInterval = r.ReadUInt32(); break;
            case PropertyId.ContentType: bag.ContentType = r.ReadString(); break;
            case PropertyId.ResponseTopic: bag.ResponseTopic = r.ReadString(); break;
            case PropertyId.CorrelationData: bag.CorrelationData = r.ReadBinary(); break;
            case PropertyId.SubscriptionIdentifier: (bag.SubscriptionIdentifiers ??= []).Add(ReadSubscriptionId(ref r)); break;
            case PropertyId.SessionExpiryInterval: bag.SessionExpiryInterval = r.ReadUInt32(); break;
            case PropertyId.AssignedClientIdentifier: bag.AssignedClientIdentifier = r.ReadString(); break;
            case PropertyId.ServerKeepAlive: bag.ServerKeepAlive = r.ReadUInt16(); break;
            case PropertyId.AuthenticationMethod: bag.AuthenticationMethod = r.ReadString(); break;
            case PropertyId.AuthenticationData: bag.AuthenticationData = r.ReadBinary(); break;
            case PropertyId.RequestProblemInformation: bag.RequestProblemInformation = ReadFlag(ref r, id); break;
            case PropertyId.WillDelayInterval: bag.WillDelayInterval = r.ReadUInt32(); break;
            case PropertyId.RequestResponseInformation: bag.RequestResponseInformation = ReadFlag(ref r, id); break;
            case PropertyId.ResponseInformation: bag.ResponseInformation = r.ReadString(); break;
            case PropertyId.ServerReference: bag.ServerReference = r.ReadString(); break;
            case PropertyId.ReasonString: bag.ReasonString = r.ReadString(); break;
            case PropertyId.ReceiveMaximum: bag.ReceiveMaximum = ReadNonZeroUInt16(ref r, id); break;
            case PropertyId.TopicAliasMaximum: bag.TopicAliasMaximum = r.ReadUInt16(); break;
            case PropertyId.TopicAlias: bag.TopicAlias = ReadNonZeroUInt16(ref r, id); break;
            case PropertyId.MaximumQoS: bag.MaximumQoS = ReadFlag(ref r, id); break;
            case PropertyId.RetainAvailable: bag.RetainAvailable = ReadFlag(ref r, id); break;
            case PropertyId.UserProperty: (bag.UserProperties ??= []).Add(new(r.ReadString(), r.ReadString())); break;
            case PropertyId.MaximumPacketSize: bag.MaximumPacketSize = ReadMaximumPacketSize(ref r); break;
            case PropertyId.WildcardSubscriptionAvailable: bag.WildcardSubscriptionAvailable = ReadFlag(ref r, id); break;
            case PropertyId.SubscriptionIdentifierAvailable: bag.SubscriptionIdentifierAvailable = ReadFlag(ref r, id); break;
            case PropertyId.SharedSubscriptionAvailable: bag.SharedSubscriptionAvailable = ReadFlag(ref r, id); break;
            default: ThrowHelper.ThrowMalformed($"Unknown property 0x{(byte)id:X2}."); break;
        }
    }

    /// <summary>A subscription identifier of 0 is a protocol error [MQTT-3.8.2-1 / 3.3.2.3.8].</summary>
    private static uint ReadSubscriptionId(ref MqttReader r)
    {
        int value = r.ReadVariableByteInteger();
        if (value == 0)
        {
            ThrowHelper.ThrowProtocolError("Subscription identifier 0 is a protocol error.");
        }

        return (uint)value;
    }

    /// <summary>Receive Maximum 0 and Topic Alias 0 are protocol errors (spec 3.1.2.11.3, 3.3.2.3.4).</summary>
    private static ushort ReadNonZeroUInt16(ref MqttReader r, PropertyId id)
    {
        ushort value = r.ReadUInt16();
        if (value == 0)
        {
            // [MQTT-3.3.2-8] a zero topic alias is answered with 0x94 Topic Alias invalid.
            if (id == PropertyId.TopicAlias)
            {
                throw new MqttProtocolException(ReasonCode.TopicAliasInvalid, "Topic Alias 0 is not permitted.");
            }

            ThrowHelper.ThrowProtocolError($"{id} 0 is a protocol error.");
        }

        return value;
    }

    /// <summary>Maximum Packet Size 0 is a protocol error (spec 3.1.2.11.4).</summary>
    private static uint ReadMaximumPacketSize(ref MqttReader r)
    {
        uint value = r.ReadUInt32();
        if (value == 0)
        {
            ThrowHelper.ThrowProtocolError("Maximum Packet Size 0 is a protocol error.");
        }

        return value;
    }

    /// <summary>Byte properties the spec restricts to 0 or 1; any other value is a protocol error.</summary>
    private static byte ReadFlag(ref MqttReader r, PropertyId id)
    {
        byte value = r.ReadByte();
        if (value > 1)
        {
            ThrowHelper.ThrowProtocolError($"{id} must be 0 or 1, was {value}.");
        }

        return value;
    }

    /// <summary>Mutable accumulator; the public <see cref="MqttProperties"/> is init-only.</summary>
    private struct PropertyBag
    {
        public byte? PayloadFormatIndicator;
        public uint? MessageExpiryInterval;
        public string? ContentType;
        public string? ResponseTopic;
        public byte[]? CorrelationData;
        public List<uint>? SubscriptionIdentifiers;
        public uint? SessionExpiryInterval;
        public string? AssignedClientIdentifier;
        public ushort? ServerKeepAlive;
        public string? AuthenticationMethod;
        public byte[]? AuthenticationData;
        public byte? RequestProblemInformation;
        public uint? WillDelayInterval;
        public byte? RequestResponseInformation;
        public string? ResponseInformation;
        public string? ServerReference;
        public string? ReasonString;
        public ushort? ReceiveMaximum;
        public ushort? TopicAliasMaximum;
        public ushort? TopicAlias;
        public byte? MaximumQoS;
        public byte? RetainAvailable;
        public List<MqttUserProperty>? UserProperties;
        public uint? MaximumPacketSize;
        public byte? WildcardSubscriptionAvailable;
        public byte? SubscriptionIdentifierAvailable;
        public byte? SharedSubscriptionAvailable;

        public readonly MqttProperties Build() => new()
        {
            PayloadFormatIndicator = PayloadFormatIndicator,
            MessageExpiryInterval = MessageExpiryInterval,
            ContentType = ContentType,
            ResponseTopic = ResponseTopic,
            CorrelationData = CorrelationData is null ? null : (ReadOnlyMemory<byte>?)CorrelationData,
            SubscriptionIdentifiers = SubscriptionIdentifiers,
            SessionExpiryInterval = SessionExpiryInterval,
            AssignedClientIdentifier = AssignedClientIdentifier,
            ServerKeepAlive = ServerKeepAlive,
            AuthenticationMethod = AuthenticationMethod,
            AuthenticationData = AuthenticationData is null ? null : (ReadOnlyMemory<byte>?)AuthenticationData,
            RequestProblemInformation = RequestProblemInformation,
            WillDelayInterval = WillDelayInterval,
            RequestResponseInformation = RequestResponseInformation,
            ResponseInformation = ResponseInformation,
            ServerReference = ServerReference,
            ReasonString = ReasonString,
            ReceiveMaximum = ReceiveMaximum,
            TopicAliasMaximum = TopicAliasMaximum,
            TopicAlias = TopicAlias,
            MaximumQoS = MaximumQoS,
            RetainAvailable = RetainAvailable,
            UserProperties = UserProperties,
            MaximumPacketSize = MaximumPacketSize,
            WildcardSubscriptionAvailable = WildcardSubscriptionAvailable,
            SubscriptionIdentifierAvailable = SubscriptionIdentifierAvailable,
            SharedSubscriptionAvailable = SharedSubscriptionAvailable,
        };
    }
}
