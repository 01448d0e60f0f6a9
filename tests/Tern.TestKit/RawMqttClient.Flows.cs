using System.Text;
using Tern.Protocol;

namespace Tern.TestKit;

/// <summary>Complete protocol flows built from single packets; each checks packet ids as the spec requires.</summary>
public sealed partial class RawMqttClient
{
    /// <summary>Sends CONNECT and returns the CONNACK (whatever its return code).</summary>
    public async Task<ConnAckPacket> ConnectAsync(
        string clientId,
        bool cleanSession = true,
        ushort keepAlive = 0,
        WillMessage? will = null,
        MqttProtocolVersion version = MqttProtocolVersion.V311,
        string? username = null,
        byte[]? password = null)
    {
        Version = version;
        if (clientId.Length > 0)
        {
            Name = clientId;
        }

        await SendAsync(new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = clientId,
            CleanSession = cleanSession,
            KeepAlive = keepAlive,
            Will = will,
            Username = username,
            // Not `password is null ? null : ...`: null would convert to an empty ReadOnlyMemory and set the password flag.
            Password = password is null ? (ReadOnlyMemory<byte>?)null : password,
        }).ConfigureAwait(false);
        return await ReceiveAsync<ConnAckPacket>().ConfigureAwait(false);
    }

    /// <summary>Subscribes to one filter; returns the SUBACK after checking its packet id.</summary>
    public Task<SubAckPacket> SubscribeAsync(string filter, MqttQoS qos = MqttQoS.AtMostOnce) =>
        SubscribeAsync((filter, qos));

    /// <summary>Subscribes to several filters in one SUBSCRIBE; returns the SUBACK after checking its packet id.</summary>
    public async Task<SubAckPacket> SubscribeAsync(params (string Filter, MqttQoS QoS)[] filters)
    {
        var id = NextPacketId();
        await SendAsync(new SubscribePacket
        {
            PacketId = id,
            Subscriptions = filters.Select(f => new TopicSubscription(f.Filter, new SubscriptionOptions(f.QoS))).ToArray(),
        }).ConfigureAwait(false);
        var ack = await ReceiveAckAsync<SubAckPacket>().ConfigureAwait(false);
        if (ack.PacketId != id)
        {
            throw new MqttTestException($"[{Name}] SUBACK carries packet id {ack.PacketId}, SUBSCRIBE had {id} [MQTT-3.8.4-2]", this);
        }

        if (ack.ReasonCodes.Count != filters.Length)
        {
            throw new MqttTestException($"[{Name}] SUBACK has {ack.ReasonCodes.Count} return codes for {filters.Length} filters [MQTT-3.8.4-5]", this);
        }

        return ack;
    }

    /// <summary>Subscribes and requires the broker to grant exactly <paramref name="qos"/>.</summary>
    public async Task SubscribeGrantedAsync(string filter, MqttQoS qos)
    {
        var ack = await SubscribeAsync(filter, qos).ConfigureAwait(false);
        if (ack.ReasonCodes[0] != (byte)qos)
        {
            throw new MqttTestException($"[{Name}] SUBSCRIBE '{filter}' q{(int)qos} was answered with 0x{ack.ReasonCodes[0]:X2}", this);
        }
    }

    /// <summary>Unsubscribes; returns the UNSUBACK after checking its packet id.</summary>
    public async Task<UnsubAckPacket> UnsubscribeAsync(params string[] filters)
    {
        var id = NextPacketId();
        await SendAsync(new UnsubscribePacket { PacketId = id, Filters = filters }).ConfigureAwait(false);
        var ack = await ReceiveAckAsync<UnsubAckPacket>().ConfigureAwait(false);
        if (ack.PacketId != id)
        {
            throw new MqttTestException($"[{Name}] UNSUBACK carries packet id {ack.PacketId}, UNSUBSCRIBE had {id} [MQTT-3.10.4-4]", this);
        }

        return ack;
    }

    /// <summary>Publishes a UTF-8 payload and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP).</summary>
    public Task<ushort> PublishAsync(string topic, string payload, MqttQoS qos = MqttQoS.AtMostOnce, bool retain = false) =>
        PublishAsync(topic, Encoding.UTF8.GetBytes(payload), qos, retain);

    /// <summary>Publishes and completes the QoS flow; returns the packet id used (0 for QoS 0).</summary>
    public async Task<ushort> PublishAsync(string topic, ReadOnlyMemory<byte> payload, MqttQoS qos = MqttQoS.AtMostOnce, bool retain = false)
    {
        var id = qos == MqttQoS.AtMostOnce ? (ushort)0 : NextPacketId();
        await SendAsync(new PublishPacket { Topic = topic, Payload = payload, QoS = qos, Retain = retain, PacketId = id }).ConfigureAwait(false);
        await CompletePublishFlowAsync(qos, id).ConfigureAwait(false);
        return id;
    }

    /// <summary>The sender's half of QoS 1/2 after the PUBLISH has been written.</summary>
    public async Task CompletePublishFlowAsync(MqttQoS qos, ushort id)
    {
        switch (qos)
        {
            case MqttQoS.AtLeastOnce:
                var ack = await ReceiveAckAsync<PubAckPacket>().ConfigureAwait(false);
                RequireId("PUBACK", ack.PacketId, id);
                break;
            case MqttQoS.ExactlyOnce:
                var rec = await ReceiveAckAsync<PubRecPacket>().ConfigureAwait(false);
                RequireId("PUBREC", rec.PacketId, id);
                await SendAsync(new PubRelPacket { PacketId = id }).ConfigureAwait(false);
                var comp = await ReceiveAckAsync<PubCompPacket>().ConfigureAwait(false);
                RequireId("PUBCOMP", comp.PacketId, id);
                break;
        }
    }

    /// <summary>Receives the next PUBLISH and, when <paramref name="ack"/>, completes its QoS flow as a receiver.</summary>
    public async Task<PublishPacket> ReceivePublishAsync(TimeSpan? timeout = null, bool ack = true)
    {
        var publish = await ReceiveAsync<PublishPacket>(timeout).ConfigureAwait(false);
        if (ack)
        {
            await AcknowledgeAsync(publish).ConfigureAwait(false);
        }

        return publish;
    }

    /// <summary>Acknowledges a received PUBLISH: PUBACK for QoS 1; PUBREC, wait PUBREL, PUBCOMP for QoS 2.</summary>
    public async Task AcknowledgeAsync(PublishPacket publish)
    {
        ArgumentNullException.ThrowIfNull(publish);
        switch (publish.QoS)
        {
            case MqttQoS.AtLeastOnce:
                await SendAsync(new PubAckPacket { PacketId = publish.PacketId }).ConfigureAwait(false);
                break;
            case MqttQoS.ExactlyOnce:
                await SendAsync(new PubRecPacket { PacketId = publish.PacketId }).ConfigureAwait(false);
                var rel = await ReceiveAckAsync<PubRelPacket>().ConfigureAwait(false);
                RequireId("PUBREL", rel.PacketId, publish.PacketId);
                await SendAsync(new PubCompPacket { PacketId = publish.PacketId }).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>PINGREQ and wait for PINGRESP (PUBLISH packets arriving meanwhile are held).</summary>
    public async Task PingAsync(TimeSpan? timeout = null)
    {
        await SendAsync(PingReqPacket.Instance).ConfigureAwait(false);
        await ReceiveAckAsync<PingRespPacket>(timeout).ConfigureAwait(false);
    }

    private void RequireId(string what, ushort actual, ushort expected)
    {
        if (actual != expected)
        {
            throw new MqttTestException($"[{Name}] {what} carries packet id {actual}, expected {expected}", this);
        }
    }
}
