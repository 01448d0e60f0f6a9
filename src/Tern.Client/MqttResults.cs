using System.Text;
using Tern.Protocol;

namespace Tern.Client;

/// <summary>
/// Outcome of <see cref="MqttClient.PublishAsync(string, ReadOnlyMemory{byte}, MqttQoS, bool, MqttProperties?, CancellationToken)"/>:
/// the PUBACK (QoS 1) or PUBCOMP (QoS 2) reason code, or <see cref="ReasonCode.Success"/> once a QoS 0 message was written.
/// Prints as <c>PublishResult { MessageId = 3, ReasonCode = Success }</c>.
/// </summary>
public sealed record PublishResult(int MessageId, ReasonCode ReasonCode, string? ReasonString = null)
{
    /// <summary>Success or "no matching subscribers" (0x10), which still delivered to the server.</summary>
    public bool IsSuccess => (byte)ReasonCode < 0x80;

    // ReasonCode has three names for 0x00; in a PUBACK or PUBCOMP it means Success.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("MessageId = ").Append(MessageId)
            .Append(", ReasonCode = ").Append(ReasonCode == ReasonCode.Success ? nameof(ReasonCode.Success) : ReasonNames.Of(ReasonCode));
        if (ReasonString is not null)
        {
            builder.Append(", ReasonString = \"").Append(ReasonString).Append('"');
        }

        return true;
    }
}

/// <summary>
/// Outcome of a SUBSCRIBE: the SUBACK's granted QoS or failure code (0x80+) per filter. Prints as
/// <c>SubscribeResult { MessageId = 7, Items = [a/b: GrantedQoS1, c/#: NotAuthorized] }</c>.
/// </summary>
public sealed record SubscribeResult(int MessageId, IReadOnlyList<byte> ReasonCodes, MqttProperties? Properties)
{
    /// <summary>Each filter with the server's answer, in request order.</summary>
    public IReadOnlyList<SubscribeResultItem> Items { get; init; } = [];

    public bool IsSuccess => ReasonCodes.All(c => c < 0x80);

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("MessageId = ").Append(MessageId).Append(", Items = [").AppendJoin(", ", Items).Append(']');
        if (Properties?.ReasonString is { } reason)
        {
            builder.Append(", ReasonString = \"").Append(reason).Append('"');
        }

        return true;
    }
}

/// <summary>One filter of a SUBSCRIBE and what the server made of it. Prints as <c>a/b: GrantedQoS1</c>.</summary>
public readonly record struct SubscribeResultItem(string Filter, SubscribeReasonCode ReasonCode)
{
    public bool IsSuccess => (byte)ReasonCode < 0x80;

    /// <summary>The QoS the server granted, or null when it refused the filter.</summary>
    public MqttQoS? GrantedQoS => IsSuccess ? (MqttQoS)ReasonCode : null;

    public override string ToString() => $"{Filter}: {ReasonNames.Of(ReasonCode)}";
}

/// <summary>Outcome of an UNSUBSCRIBE; <see cref="ReasonCodes"/> and <see cref="Items"/> are empty before MQTT 5, whose UNSUBACK has none.</summary>
public sealed record UnsubscribeResult(int MessageId, IReadOnlyList<byte> ReasonCodes)
{
    /// <summary>Each filter with the server's answer, in request order (MQTT 5).</summary>
    public IReadOnlyList<UnsubscribeResultItem> Items { get; init; } = [];

    public bool IsSuccess => ReasonCodes.All(c => c < 0x80);

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("MessageId = ").Append(MessageId).Append(", Items = [").AppendJoin(", ", Items).Append(']');
        return true;
    }
}

/// <summary>One filter of an UNSUBSCRIBE and the MQTT 5 UNSUBACK code for it. Prints as <c>a/b: NoSubscriptionExisted</c>.</summary>
public readonly record struct UnsubscribeResultItem(string Filter, UnsubscribeReasonCode ReasonCode)
{
    public bool IsSuccess => (byte)ReasonCode < 0x80;

    public override string ToString() => $"{Filter}: {ReasonNames.Of(ReasonCode)}";
}

/// <summary>
/// SUBACK reason codes (MQTT 5 section 3.9.3; 3.1.1 uses 0x00-0x02 and 0x80). Unlike
/// <see cref="Protocol.ReasonCode"/>, where 0x00 has three names, each value has one, so it prints as the SUBACK means it.
/// </summary>
public enum SubscribeReasonCode : byte
{
    GrantedQoS0 = 0x00,
    GrantedQoS1 = 0x01,
    GrantedQoS2 = 0x02,
    UnspecifiedError = 0x80,
    ImplementationSpecificError = 0x83,
    NotAuthorized = 0x87,
    TopicFilterInvalid = 0x8F,
    PacketIdentifierInUse = 0x91,
    QuotaExceeded = 0x97,
    SharedSubscriptionsNotSupported = 0x9E,
    SubscriptionIdentifiersNotSupported = 0xA1,
    WildcardSubscriptionsNotSupported = 0xA2,
}

/// <summary>UNSUBACK reason codes (MQTT 5 section 3.11.3), one name per value.</summary>
public enum UnsubscribeReasonCode : byte
{
    Success = 0x00,
    NoSubscriptionExisted = 0x11,
    UnspecifiedError = 0x80,
    ImplementationSpecificError = 0x83,
    NotAuthorized = 0x87,
    TopicFilterInvalid = 0x8F,
    PacketIdentifierInUse = 0x91,
}

/// <summary>An enum value's name, or its hex value when the server sent a code the enum does not name.</summary>
internal static class ReasonNames
{
    public static string Of<T>(T code)
        where T : struct, Enum
        => Enum.IsDefined(code) ? code.ToString() : "0x" + code.ToString("X");
}
