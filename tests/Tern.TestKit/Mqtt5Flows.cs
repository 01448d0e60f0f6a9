using System.Text;
using Tern.Protocol;

namespace Tern.TestKit;

/// <summary>
/// MQTT 5.0 flows on a <see cref="RawMqttClient"/>: CONNECT with properties, SUBSCRIBE with options and
/// subscription identifiers, PUBLISH with properties, and expecting a DISCONNECT with a given reason code.
/// Failure messages describe packets with their reason codes and properties (<see cref="Describe5"/>).
/// </summary>
public static class Mqtt5Flows
{
    /// <summary>Opens a connection and sends an MQTT 5.0 CONNECT; returns the client and the CONNACK (whatever its reason code).</summary>
    public static async Task<(RawMqttClient Client, ConnAckPacket ConnAck)> OpenV5Async(
        this TestBroker broker,
        string clientId,
        MqttProperties? properties = null,
        bool cleanStart = true,
        ushort keepAlive = 0,
        WillMessage? will = null)
    {
        ArgumentNullException.ThrowIfNull(broker);
        var client = await broker.OpenRawAsync().ConfigureAwait(false);
        try
        {
            var connAck = await client.ConnectV5Async(clientId, properties, cleanStart, keepAlive, will).ConfigureAwait(false);
            return (client, connAck);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens an MQTT 5.0 connection and requires CONNACK reason code 0.</summary>
    public static async Task<RawMqttClient> ConnectV5Async(
        this TestBroker broker,
        string clientId,
        MqttProperties? properties = null,
        bool cleanStart = true,
        ushort keepAlive = 0,
        WillMessage? will = null)
    {
        var (client, connAck) = await broker.OpenV5Async(clientId, properties, cleanStart, keepAlive, will).ConfigureAwait(false);
        if (connAck.ReasonCode != 0)
        {
            var text = $"[{client.Name}] MQTT 5 CONNECT was refused: {Describe5(connAck)}";
            await client.DisposeAsync().ConfigureAwait(false);
            throw new MqttTestException(text);
        }

        return client;
    }

    /// <summary>Sends an MQTT 5.0 CONNECT on an open connection and returns the CONNACK.</summary>
    public static async Task<ConnAckPacket> ConnectV5Async(
        this RawMqttClient client,
        string clientId,
        MqttProperties? properties = null,
        bool cleanStart = true,
        ushort keepAlive = 0,
        WillMessage? will = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        client.Version = MqttProtocolVersion.V500;
        if (clientId.Length > 0)
        {
            client.Name = clientId;
        }

        await client.SendAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = clientId,
            CleanSession = cleanStart,
            KeepAlive = keepAlive,
            Will = will,
            Properties = properties,
        }).ConfigureAwait(false);
        return await client.ReceiveAsync<ConnAckPacket>().ConfigureAwait(false);
    }

    /// <summary>SUBSCRIBE with MQTT 5.0 options and an optional subscription identifier; returns the SUBACK after checking its packet id.</summary>
    public static async Task<SubAckPacket> SubscribeV5Async(
        this RawMqttClient client,
        string filter,
        MqttQoS qos = MqttQoS.AtLeastOnce,
        bool noLocal = false,
        bool retainAsPublished = false,
        byte retainHandling = 0,
        uint? subscriptionId = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var id = client.NextPacketId();
        await client.SendAsync(new SubscribePacket
        {
            PacketId = id,
            Subscriptions = [new TopicSubscription(filter, new SubscriptionOptions(qos, noLocal, retainAsPublished, retainHandling))],
            Properties = subscriptionId is { } sid ? new MqttProperties { SubscriptionIdentifiers = [sid] } : null,
        }).ConfigureAwait(false);
        var ack = await client.ReceiveAckAsync<SubAckPacket>().ConfigureAwait(false);
        if (ack.PacketId != id || ack.ReasonCodes.Count != 1)
        {
            throw new MqttTestException($"[{client.Name}] SUBSCRIBE id {id} was answered with {Describe5(ack)}", client);
        }

        return ack;
    }

    /// <summary>Subscribes (MQTT 5.0 options) and requires the broker to grant exactly <paramref name="qos"/>.</summary>
    public static async Task SubscribeV5GrantedAsync(
        this RawMqttClient client,
        string filter,
        MqttQoS qos = MqttQoS.AtLeastOnce,
        bool noLocal = false,
        bool retainAsPublished = false,
        byte retainHandling = 0,
        uint? subscriptionId = null)
    {
        var ack = await client.SubscribeV5Async(filter, qos, noLocal, retainAsPublished, retainHandling, subscriptionId).ConfigureAwait(false);
        if (ack.ReasonCodes[0] != (byte)qos)
        {
            throw new MqttTestException($"[{client.Name}] SUBSCRIBE '{filter}' q{(int)qos} was answered with {Describe5(ack)}", client);
        }
    }

    /// <summary>Sends a PUBLISH with properties (no flow completion); returns the packet id used (0 for QoS 0).</summary>
    public static async Task<ushort> SendPublishV5Async(
        this RawMqttClient client,
        string topic,
        string payload,
        MqttQoS qos = MqttQoS.AtMostOnce,
        MqttProperties? properties = null,
        bool retain = false) =>
        await client.SendPublishV5Async(topic, Encoding.UTF8.GetBytes(payload), qos, properties, retain).ConfigureAwait(false);

    /// <inheritdoc cref="SendPublishV5Async(RawMqttClient, string, string, MqttQoS, MqttProperties?, bool)"/>
    public static async Task<ushort> SendPublishV5Async(
        this RawMqttClient client,
        string topic,
        ReadOnlyMemory<byte> payload,
        MqttQoS qos = MqttQoS.AtMostOnce,
        MqttProperties? properties = null,
        bool retain = false)
    {
        ArgumentNullException.ThrowIfNull(client);
        var id = qos == MqttQoS.AtMostOnce ? (ushort)0 : client.NextPacketId();
        await client.SendAsync(new PublishPacket { Topic = topic, Payload = payload, QoS = qos, Retain = retain, PacketId = id, Properties = properties })
            .ConfigureAwait(false);
        return id;
    }

    /// <summary>Publishes at QoS 1 with properties and returns the PUBACK (whatever its reason code) after checking its packet id.</summary>
    public static async Task<PubAckPacket> PublishQoS1V5Async(
        this RawMqttClient client,
        string topic,
        string payload,
        MqttProperties? properties = null,
        bool retain = false)
    {
        var id = await client.SendPublishV5Async(topic, payload, MqttQoS.AtLeastOnce, properties, retain).ConfigureAwait(false);
        var ack = await client.ReceiveAckAsync<PubAckPacket>().ConfigureAwait(false);
        if (ack.PacketId != id)
        {
            throw new MqttTestException($"[{client.Name}] PUBACK carries packet id {ack.PacketId}, PUBLISH had {id}", client);
        }

        return ack;
    }

    /// <summary>Publishes with properties and completes the QoS flow as a sender.</summary>
    public static async Task PublishV5Async(
        this RawMqttClient client,
        string topic,
        string payload,
        MqttQoS qos = MqttQoS.AtLeastOnce,
        MqttProperties? properties = null,
        bool retain = false)
    {
        var id = await client.SendPublishV5Async(topic, payload, qos, properties, retain).ConfigureAwait(false);
        await client.CompletePublishFlowAsync(qos, id).ConfigureAwait(false);
    }

    /// <summary>
    /// Requires the next packet (PUBLISH packets before it are skipped) to be a DISCONNECT with one of
    /// <paramref name="expected"/> reason codes, and the broker to close the connection afterwards.
    /// </summary>
    public static async Task<DisconnectPacket> ExpectDisconnectAsync(this RawMqttClient client, params ReasonCode[] expected)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(expected);
        var want = string.Join(" or ", expected.Select(c => $"0x{(byte)c:X2}"));
        var deadline = DateTime.UtcNow + TestTimeouts.Close;
        while (true)
        {
            MqttPacket packet;
            try
            {
                var left = deadline - DateTime.UtcNow;
                packet = await client.ReceiveAnyAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero).ConfigureAwait(false);
            }
            catch (MqttTestException e)
            {
                throw new MqttTestException($"[{client.Name}] expected DISCONNECT {want}; {e.Message}");
            }

            if (packet is PublishPacket)
            {
                continue;
            }

            if (packet is not DisconnectPacket disconnect)
            {
                throw new MqttTestException($"[{client.Name}] expected DISCONNECT {want} but received {Describe5(packet)}", client);
            }

            if (!expected.Contains(disconnect.ReasonCode))
            {
                throw new MqttTestException($"[{client.Name}] expected DISCONNECT {want} but received {Describe5(disconnect)}", client);
            }

            if (!await client.WaitForCloseAsync().ConfigureAwait(false))
            {
                throw new MqttTestException($"[{client.Name}] the broker sent {Describe5(disconnect)} but did not close the connection [MQTT-3.14.4-1]", client);
            }

            return disconnect;
        }
    }

    /// <summary>Receives the next PUBLISH, acknowledging it, and requires its topic and payload.</summary>
    public static async Task<PublishPacket> ExpectPublishAsync(this RawMqttClient client, string topic, string payload, bool ack = true)
    {
        ArgumentNullException.ThrowIfNull(client);
        var publish = await client.ReceivePublishAsync(ack: ack).ConfigureAwait(false);
        if (publish.Topic != topic || publish.PayloadText() != payload)
        {
            throw new MqttTestException($"[{client.Name}] expected PUBLISH '{topic}' '{payload}' but received {Describe5(publish)}", client);
        }

        return publish;
    }

    /// <summary>A one-line description with MQTT 5.0 reason codes and properties.</summary>
    public static string Describe5(MqttPacket packet) => packet switch
    {
        null => "null",
        ConnAckPacket a => $"CONNACK(sp={(a.SessionPresent ? 1 : 0)}, rc=0x{a.ReasonCode:X2}{Props(a.Properties)})",
        PubAckPacket a => $"PUBACK(id={a.PacketId}, rc=0x{(byte)a.ReasonCode:X2}{Props(a.Properties)})",
        PubRecPacket a => $"PUBREC(id={a.PacketId}, rc=0x{(byte)a.ReasonCode:X2}{Props(a.Properties)})",
        PubRelPacket a => $"PUBREL(id={a.PacketId}, rc=0x{(byte)a.ReasonCode:X2}{Props(a.Properties)})",
        PubCompPacket a => $"PUBCOMP(id={a.PacketId}, rc=0x{(byte)a.ReasonCode:X2}{Props(a.Properties)})",
        SubAckPacket s => $"SUBACK(id={s.PacketId}, codes=[{string.Join(",", s.ReasonCodes.Select(c => $"0x{c:X2}"))}]{Props(s.Properties)})",
        UnsubAckPacket u => $"UNSUBACK(id={u.PacketId}, codes=[{string.Join(",", u.ReasonCodes.Select(c => $"0x{c:X2}"))}]{Props(u.Properties)})",
        DisconnectPacket d => $"DISCONNECT(rc=0x{(byte)d.ReasonCode:X2}{Props(d.Properties)})",
        AuthPacket a => $"AUTH(rc=0x{(byte)a.ReasonCode:X2}{Props(a.Properties)})",
        PublishPacket p => RawMqttClient.Describe(p)[..^1] + Props(p.Properties) + ")",
        _ => RawMqttClient.Describe(packet),
    };

    /// <summary>The set properties as ", name=value" pairs (empty when none).</summary>
    public static string Props(MqttProperties? p)
    {
        if (p is null)
        {
            return "";
        }

        var parts = new List<string>();
        void Add(string name, object? value)
        {
            if (value is not null)
            {
                parts.Add($"{name}={value}");
            }
        }

        Add("pfi", p.PayloadFormatIndicator);
        Add("expiry", p.MessageExpiryInterval);
        Add("contentType", p.ContentType);
        Add("responseTopic", p.ResponseTopic);
        Add("correlation", p.CorrelationData is { } c ? Convert.ToHexString(c.Span) : null);
        Add("subIds", p.SubscriptionIdentifiers is { } s ? "[" + string.Join(",", s) + "]" : null);
        Add("sessionExpiry", p.SessionExpiryInterval);
        Add("assignedId", p.AssignedClientIdentifier);
        Add("serverKeepAlive", p.ServerKeepAlive);
        Add("authMethod", p.AuthenticationMethod);
        Add("responseInfo", p.ResponseInformation);
        Add("serverRef", p.ServerReference);
        Add("reason", p.ReasonString is { } r ? $"'{r}'" : null);
        Add("receiveMax", p.ReceiveMaximum);
        Add("topicAliasMax", p.TopicAliasMaximum);
        Add("alias", p.TopicAlias);
        Add("maxQoS", p.MaximumQoS);
        Add("retainAvail", p.RetainAvailable);
        Add("user", p.UserProperties is { } u ? "[" + string.Join(",", u.Select(x => $"{x.Name}={x.Value}")) + "]" : null);
        Add("maxPacket", p.MaximumPacketSize);
        Add("wildcardAvail", p.WildcardSubscriptionAvailable);
        Add("subIdAvail", p.SubscriptionIdentifierAvailable);
        Add("sharedAvail", p.SharedSubscriptionAvailable);
        return parts.Count == 0 ? "" : ", " + string.Join(", ", parts);
    }
}
