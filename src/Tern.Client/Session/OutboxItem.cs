using Tern.Protocol;

namespace Tern.Client;

/// <summary>Where a queued message is in its QoS flow.</summary>
internal enum OutboxState
{
    /// <summary>Not sent on the current connection yet (new, or to be resent after a reconnect).</summary>
    Queued,
    /// <summary>PUBLISH sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).</summary>
    AwaitingAck,
    /// <summary>PUBREC received; PUBREL to be sent on the current connection.</summary>
    ReleasePending,
    /// <summary>PUBREL sent; waiting for PUBCOMP.</summary>
    AwaitingComplete,
}

/// <summary>One message in the outbox. Mutated only under the client lock.</summary>
internal sealed class OutboxItem
{
    public OutboxItem(PublishPacket packet, TaskCompletionSource<PublishResult>? completion)
    {
        Packet = packet;
        Completion = completion;
    }

    /// <summary>The PUBLISH as first sent; resent with DUP set.</summary>
    public PublishPacket Packet { get; set; }

    public ushort PacketId => Packet.PacketId;

    public OutboxState State { get; set; }

    /// <summary>Whether the PUBLISH was written at least once, so a resend carries DUP [MQTT-3.3.1-1].</summary>
    public bool SentBefore { get; set; }

    public TaskCompletionSource<PublishResult>? Completion { get; }

    public long Size => Packet.Payload.Length + Packet.Topic.Length;
}
