namespace Tern.Protocol;

/// <summary>A user property (0x26): a UTF-8 name/value pair. Order and duplicates are kept.</summary>
public readonly record struct MqttUserProperty(string Name, string Value);

/// <summary>
/// MQTT 5.0 properties (spec 2.2.2.2). Every field is null when absent. Which fields a packet
/// may carry is checked by the decoder; the encoder writes what is set.
/// </summary>
public sealed record MqttProperties
{
    public static readonly MqttProperties Empty = new();

    public byte? PayloadFormatIndicator { get; init; }          // 0x01
    public uint? MessageExpiryInterval { get; init; }           // 0x02
    public string? ContentType { get; init; }                   // 0x03
    public string? ResponseTopic { get; init; }                 // 0x08
    public ReadOnlyMemory<byte>? CorrelationData { get; init; } // 0x09
    public IReadOnlyList<uint>? SubscriptionIdentifiers { get; init; } // 0x0B (several in PUBLISH)
    public uint? SessionExpiryInterval { get; init; }           // 0x11
    public string? AssignedClientIdentifier { get; init; }      // 0x12
    public ushort? ServerKeepAlive { get; init; }               // 0x13
    public string? AuthenticationMethod { get; init; }          // 0x15
    public ReadOnlyMemory<byte>? AuthenticationData { get; init; } // 0x16
    public byte? RequestProblemInformation { get; init; }       // 0x17
    public uint? WillDelayInterval { get; init; }               // 0x18
    public byte? RequestResponseInformation { get; init; }      // 0x19
    public string? ResponseInformation { get; init; }           // 0x1A
    public string? ServerReference { get; init; }               // 0x1C
    public string? ReasonString { get; init; }                  // 0x1F
    public ushort? ReceiveMaximum { get; init; }                // 0x21
    public ushort? TopicAliasMaximum { get; init; }             // 0x22
    public ushort? TopicAlias { get; init; }                    // 0x23
    public byte? MaximumQoS { get; init; }                      // 0x24
    public byte? RetainAvailable { get; init; }                 // 0x25
    public IReadOnlyList<MqttUserProperty>? UserProperties { get; init; } // 0x26
    public uint? MaximumPacketSize { get; init; }               // 0x27
    public byte? WildcardSubscriptionAvailable { get; init; }   // 0x28
    public byte? SubscriptionIdentifierAvailable { get; init; } // 0x29
    public byte? SharedSubscriptionAvailable { get; init; }     // 0x2A
}
