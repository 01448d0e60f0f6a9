using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using Tern.Interop.Tests.MqttNet;
using Tern.TestKit;

namespace Tern.Interop.Tests.Mqtt5;

/// <summary>The MQTTnet client in MQTT 5.0 mode against Tern.</summary>
public sealed class MqttNet5Tests
{
    private static Task<MqttNetPeer> ConnectAsync(TestBroker broker, string prefix, Func<MqttClientOptionsBuilder, MqttClientOptionsBuilder>? configure = null, bool cleanStart = true) =>
        MqttNetPeer.ConnectAsync(broker, TestIds.Client(prefix), cleanStart, configure, MqttProtocolVersion.V500);

    private static async Task SubscribeAsync(MqttNetPeer peer, Action<MqttTopicFilterBuilder> filter, uint? subscriptionId = null, MqttClientSubscribeResultCode expected = MqttClientSubscribeResultCode.GrantedQoS1)
    {
        var builder = new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter);
        if (subscriptionId is { } id)
        {
            builder = builder.WithSubscriptionIdentifier(id);
        }

        var result = await peer.Client.SubscribeAsync(builder.Build());
        var item = Assert.Single(result.Items);
        Assert.Equal(expected, item.ResultCode);
    }

    private static async Task PublishAsync(MqttNetPeer peer, MqttApplicationMessage message, MqttClientPublishReasonCode expected = MqttClientPublishReasonCode.Success)
    {
        var result = await peer.Client.PublishAsync(message);
        Assert.True(result.ReasonCode == expected, $"PUBLISH '{message.Topic}' answered {result.ReasonCode} ({result.ReasonString}), expected {expected}");
    }

    private static ReadOnlyMemory<byte> Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static MqttApplicationMessageBuilder Message(string topic, string payload) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);

    [Fact]
    public async Task ConnAck_ReportsBrokerLimitsAndAssignedClientId()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var peer = await MqttNetPeer.ConnectAsync(broker, "", configure: b => b.WithRequestResponseInformation(true), version: MqttProtocolVersion.V500);

        var result = peer.ConnectResult!;
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        Assert.False(string.IsNullOrEmpty(result.AssignedClientIdentifier));
        Assert.Equal((ushort)1024, result.ReceiveMaximum);
        Assert.Equal((ushort)10, result.TopicAliasMaximum);
        Assert.Equal(1024u * 1024u, result.MaximumPacketSize);
        Assert.True(result.RetainAvailable && result.WildcardSubscriptionAvailable && result.SubscriptionIdentifiersAvailable && result.SharedSubscriptionAvailable);
        Assert.Equal($"response/{result.AssignedClientIdentifier}", result.ResponseInformation);
    }

    [Fact]
    public async Task UserProperties_ArriveInOrder()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await ConnectAsync(broker, "n5sub");
        await SubscribeAsync(subscriber, f => f.WithTopic(topic).WithAtLeastOnceQoS());
        await using var publisher = await ConnectAsync(broker, "n5pub");

        await PublishAsync(publisher, Message(topic, "props").WithUserProperty("z", Utf8("1")).WithUserProperty("a", Utf8("2")).WithUserProperty("z", Utf8("3")).Build());

        var received = await subscriber.ReceiveAsync();
        Assert.Equal([("z", "1"), ("a", "2"), ("z", "3")], received.UserProperties.Select(p => (p.Name, p.ReadValueAsString())));
    }

    [Fact]
    public async Task RequestResponse_ResponseTopicCorrelationDataAndContentTypePassThrough()
    {
        await using var broker = await TestBroker.StartAsync();
        var requests = TestIds.Topic();
        var replies = TestIds.Topic();
        await using var responder = await ConnectAsync(broker, "n5resp");
        await SubscribeAsync(responder, f => f.WithTopic(requests).WithAtLeastOnceQoS());
        await using var requester = await ConnectAsync(broker, "n5req");
        await SubscribeAsync(requester, f => f.WithTopic(replies).WithAtLeastOnceQoS());
        byte[] correlation = [0xCA, 0xFE, 0x00, 0x01];

        await PublishAsync(requester, Message(requests, "ping?").WithResponseTopic(replies).WithCorrelationData(correlation).WithContentType("text/plain").Build());
        var request = await responder.ReceiveAsync();
        Assert.Equal((replies, "text/plain"), (request.ResponseTopic, request.ContentType));
        Assert.Equal(correlation, request.CorrelationData);

        await PublishAsync(responder, Message(request.ResponseTopic, "pong!").WithCorrelationData(request.CorrelationData).Build());
        var reply = await requester.ReceiveAsync();
        Assert.Equal("pong!", MqttNetPeer.Text(reply));
        Assert.Equal(correlation, reply.CorrelationData);
    }

    [Fact]
    public async Task SubscriptionIdentifiers_AreReported()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await ConnectAsync(broker, "n5sid");
        await SubscribeAsync(subscriber, f => f.WithTopic(topic).WithAtLeastOnceQoS(), subscriptionId: 7);
        await SubscribeAsync(subscriber, f => f.WithTopic("tern-test/#").WithAtLeastOnceQoS(), subscriptionId: 8);
        await using var publisher = await ConnectAsync(broker, "n5pub");

        await PublishAsync(publisher, Message(topic, "ids").Build());

        var received = await subscriber.ReceiveAsync();
        Assert.Equal([7u, 8u], received.SubscriptionIdentifiers.Order());
        await subscriber.ExpectNoMessageAsync();
    }

    [Fact]
    public async Task NoLocal_OwnMessagesAreNotEchoed()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var peer = await ConnectAsync(broker, "n5nl");
        await SubscribeAsync(peer, f => f.WithTopic(topic).WithAtLeastOnceQoS().WithNoLocal(true));
        await using var other = await ConnectAsync(broker, "n5other");

        await PublishAsync(peer, Message(topic, "mine").Build());
        await PublishAsync(other, Message(topic, "theirs").Build());

        Assert.Equal("theirs", MqttNetPeer.Text(await peer.ReceiveAsync()));
        await peer.ExpectNoMessageAsync();
    }

    [Fact]
    public async Task RetainHandling_SendAtSubscribeIfNew_AndDoNotSendOnSubscribe()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var publisher = await ConnectAsync(broker, "n5pub");
        await PublishAsync(publisher, Message(topic, "retained").WithRetainFlag().Build(), MqttClientPublishReasonCode.NoMatchingSubscribers);

        await using var never = await ConnectAsync(broker, "n5rh2");
        await SubscribeAsync(never, f => f.WithTopic(topic).WithAtLeastOnceQoS().WithRetainHandling(MqttRetainHandling.DoNotSendOnSubscribe));
        await never.ExpectNoMessageAsync();

        await using var onlyNew = await ConnectAsync(broker, "n5rh1");
        await SubscribeAsync(onlyNew, f => f.WithTopic(topic).WithAtLeastOnceQoS().WithRetainHandling(MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly));
        var first = await onlyNew.ReceiveAsync();
        Assert.True(first.Retain && MqttNetPeer.Text(first) == "retained");
        await SubscribeAsync(onlyNew, f => f.WithTopic(topic).WithAtLeastOnceQoS().WithRetainHandling(MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly));
        await onlyNew.ExpectNoMessageAsync();
    }

    [Fact]
    public async Task RetainAsPublished_KeepsTheRetainFlagOnLiveMessages()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await ConnectAsync(broker, "n5rap");
        await SubscribeAsync(subscriber, f => f.WithTopic(topic).WithAtLeastOnceQoS().WithRetainAsPublished(true));
        await using var publisher = await ConnectAsync(broker, "n5pub");

        await PublishAsync(publisher, Message(topic, "live retained").WithRetainFlag().Build());

        Assert.True((await subscriber.ReceiveAsync()).Retain);
    }

    [Fact]
    public async Task SharedSubscription_EachMessageGoesToOneMember()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var a = await ConnectAsync(broker, "n5sa");
        await using var b = await ConnectAsync(broker, "n5sb");
        await SubscribeAsync(a, f => f.WithTopic($"$share/grp/{topic}").WithAtLeastOnceQoS());
        await SubscribeAsync(b, f => f.WithTopic($"$share/grp/{topic}").WithAtLeastOnceQoS());
        await using var publisher = await ConnectAsync(broker, "n5pub");

        for (var i = 0; i < 10; i++)
        {
            await PublishAsync(publisher, Message(topic, $"m{i}").Build());
        }

        var got = new List<(char Who, string Text)>();
        var deadline = DateTime.UtcNow + TestTimeouts.Receive;
        while (got.Count < 10 && DateTime.UtcNow < deadline)
        {
            foreach (var (who, peer) in new[] { ('a', a), ('b', b) })
            {
                try
                {
                    got.Add((who, MqttNetPeer.Text(await peer.ReceiveAsync(TimeSpan.FromMilliseconds(50)))));
                }
                catch (MqttTestException)
                {
                    // Nothing for this member right now.
                }
            }
        }

        var texts = got.Select(g => g.Text).Order().ToArray();
        Assert.True(texts.SequenceEqual(Enumerable.Range(0, 10).Select(i => $"m{i}").Order()), string.Join(",", got));
        Assert.Contains(got, g => g.Who == 'a');
        Assert.Contains(got, g => g.Who == 'b');
        await a.ExpectNoMessageAsync();
        await b.ExpectNoMessageAsync();
    }

    [Fact]
    public async Task SessionExpiry_QueuedMessageIsDeliveredAfterReconnect()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        var id = TestIds.Client("n5se");
        await using (var first = await MqttNetPeer.ConnectAsync(broker, id, cleanSession: true, b => b.WithSessionExpiryInterval(60), MqttProtocolVersion.V500))
        {
            await SubscribeAsync(first, f => f.WithTopic(topic).WithAtLeastOnceQoS());
        }

        await using (var publisher = await ConnectAsync(broker, "n5pub"))
        {
            await PublishAsync(publisher, Message(topic, "while away").Build());
        }

        await using var second = await MqttNetPeer.ConnectAsync(broker, id, cleanSession: false, b => b.WithSessionExpiryInterval(60), MqttProtocolVersion.V500);
        Assert.True(second.ConnectResult!.IsSessionPresent);
        Assert.Equal("while away", MqttNetPeer.Text(await second.ReceiveAsync()));
    }

    [Fact]
    public async Task TopicAlias_FromMqttNetPublisher_IsResolvedForSubscribers()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await ConnectAsync(broker, "n5sub");
        await SubscribeAsync(subscriber, f => f.WithTopic(topic).WithAtLeastOnceQoS());
        await using var publisher = await ConnectAsync(broker, "n5pub");

        await PublishAsync(publisher, Message(topic, "sets alias").WithTopicAlias(2).Build());
        await PublishAsync(publisher, Message("", "uses alias").WithTopicAlias(2).Build());

        var first = await subscriber.ReceiveAsync();
        var second = await subscriber.ReceiveAsync();
        Assert.Equal((topic, "sets alias"), (first.Topic, MqttNetPeer.Text(first)));
        Assert.Equal((topic, "uses alias"), (second.Topic, MqttNetPeer.Text(second)));
    }

    [Fact]
    public async Task MessageExpiryAndPayloadFormat_ArePassedOn()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await ConnectAsync(broker, "n5sub");
        await SubscribeAsync(subscriber, f => f.WithTopic(topic).WithAtLeastOnceQoS());
        await using var publisher = await ConnectAsync(broker, "n5pub");

        await PublishAsync(publisher, Message(topic, "text").WithMessageExpiryInterval(300).WithPayloadFormatIndicator(MqttPayloadFormatIndicator.CharacterData).Build());

        var received = await subscriber.ReceiveAsync();
        Assert.Equal(MqttPayloadFormatIndicator.CharacterData, received.PayloadFormatIndicator);
        Assert.InRange(received.MessageExpiryInterval, 299u, 300u);
        Assert.Equal("text", MqttNetPeer.Text(received));
    }
}
