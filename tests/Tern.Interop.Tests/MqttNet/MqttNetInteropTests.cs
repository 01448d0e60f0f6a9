using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Tern.TestKit;

namespace Tern.Interop.Tests.MqttNet;

/// <summary>The MQTTnet client (NuGet MQTTnet) against Tern.</summary>
public sealed class MqttNetInteropTests
{
    private static MqttApplicationMessage Message(string topic, string payload, MqttQualityOfServiceLevel qos, bool retain = false) =>
        new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(qos)
            .WithRetainFlag(retain)
            .Build();

    private static async Task SubscribeAsync(MqttNetPeer peer, string topic, MqttQualityOfServiceLevel qos)
    {
        var result = await peer.Client.SubscribeAsync(
            new MqttClientSubscribeOptionsBuilder().WithTopicFilter(f => f.WithTopic(topic).WithQualityOfServiceLevel(qos)).Build());
        var item = Assert.Single(result.Items);
        Assert.Equal((int)qos, (int)item.ResultCode);
    }

    private static async Task PublishAsync(MqttNetPeer peer, MqttApplicationMessage message)
    {
        var result = await peer.Client.PublishAsync(message);
        Assert.True(result.IsSuccess, $"PUBLISH q{(int)message.QualityOfServiceLevel} failed: {result.ReasonCode} {result.ReasonString}");
    }

    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task QosFlow_MessageArrivesAtThePublishedQos(MqttQualityOfServiceLevel qos)
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netsub"));
        await SubscribeAsync(subscriber, topic, MqttQualityOfServiceLevel.ExactlyOnce);
        await using var publisher = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netpub"));

        await PublishAsync(publisher, Message(topic, $"q{(int)qos}", qos));

        var received = await subscriber.ReceiveAsync();
        Assert.Equal(topic, received.Topic);
        Assert.Equal($"q{(int)qos}", MqttNetPeer.Text(received));
        Assert.Equal(qos, received.QualityOfServiceLevel);
        await subscriber.ExpectNoMessageAsync();
    }

    [Fact]
    public async Task QosFlow_ManyQos2MessagesArriveOnceEachInOrder()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netsub"));
        await SubscribeAsync(subscriber, topic, MqttQualityOfServiceLevel.ExactlyOnce);
        await using var publisher = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netpub"));

        for (var i = 0; i < 100; i++)
        {
            await PublishAsync(publisher, Message(topic, i.ToString(System.Globalization.CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.ExactlyOnce));
        }

        var received = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                received.Add(MqttNetPeer.Text(await subscriber.ReceiveAsync()));
            }
            catch (MqttTestException e)
            {
                throw new MqttTestException($"{e.Message}; received {received.Count} of 100: [{string.Join(",", received)}]");
            }
        }

        Assert.Equal(Enumerable.Range(0, 100).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), received);
        await subscriber.ExpectNoMessageAsync();
    }

    [Fact]
    public async Task Mqtt31_MqttNetV310ClientWorks()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var peer = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("net31"), version: MqttProtocolVersion.V310);
        await SubscribeAsync(peer, topic, MqttQualityOfServiceLevel.AtLeastOnce);

        await PublishAsync(peer, Message(topic, "3.1", MqttQualityOfServiceLevel.AtLeastOnce));

        Assert.Equal("3.1", MqttNetPeer.Text(await peer.ReceiveAsync()));
    }

    [Fact]
    public async Task Retained_IsDeliveredToLaterSubscriberWithRetainFlag()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using (var publisher = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netpub")))
        {
            await PublishAsync(publisher, Message(topic, "kept", MqttQualityOfServiceLevel.AtLeastOnce, retain: true));
        }

        await using var subscriber = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netsub"));
        await SubscribeAsync(subscriber, topic, MqttQualityOfServiceLevel.AtLeastOnce);

        var received = await subscriber.ReceiveAsync();
        Assert.Equal("kept", MqttNetPeer.Text(received));
        Assert.True(received.Retain);
    }

    [Fact]
    public async Task PersistentSession_QueuedMessagesArriveAfterReconnect()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        var id = TestIds.Client("netpersist");
        await using (var first = await MqttNetPeer.ConnectAsync(broker, id, cleanSession: false))
        {
            await SubscribeAsync(first, topic, MqttQualityOfServiceLevel.ExactlyOnce);
        }

        await using (var publisher = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netpub")))
        {
            await PublishAsync(publisher, Message(topic, "queued q1", MqttQualityOfServiceLevel.AtLeastOnce));
            await PublishAsync(publisher, Message(topic, "queued q2", MqttQualityOfServiceLevel.ExactlyOnce));
        }

        await using var second = await MqttNetPeer.ConnectAsync(broker, id, cleanSession: false);
        Assert.True(second.ConnectResult!.IsSessionPresent, "CONNACK must report session present 1");
        var m1 = await second.ReceiveAsync();
        var m2 = await second.ReceiveAsync();
        Assert.Equal(("queued q1", MqttQualityOfServiceLevel.AtLeastOnce), (MqttNetPeer.Text(m1), m1.QualityOfServiceLevel));
        Assert.Equal(("queued q2", MqttQualityOfServiceLevel.ExactlyOnce), (MqttNetPeer.Text(m2), m2.QualityOfServiceLevel));
    }

    [Fact]
    public async Task Will_IsPublishedWhenTheMqttNetConnectionIsTakenOver()
    {
        await using var broker = await TestBroker.StartAsync();
        var willTopic = TestIds.Topic("will");
        var id = TestIds.Client("netwill");
        await using var observer = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netobs"));
        await SubscribeAsync(observer, willTopic, MqttQualityOfServiceLevel.AtLeastOnce);
        await using var victim = await MqttNetPeer.ConnectAsync(broker, id, configure: b => b
            .WithWillTopic(willTopic)
            .WithWillPayload("net victim gone")
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));

        // A second connection with the same id ends the first abnormally: its will must be published.
        await using var usurper = await MqttNetPeer.ConnectAsync(broker, id);

        var will = await observer.ReceiveAsync();
        Assert.Equal((willTopic, "net victim gone", MqttQualityOfServiceLevel.AtLeastOnce), (will.Topic, MqttNetPeer.Text(will), will.QualityOfServiceLevel));
    }

    [Fact]
    public async Task Will_IsNotPublishedAfterMqttNetDisconnects()
    {
        await using var broker = await TestBroker.StartAsync();
        var willTopic = TestIds.Topic("will");
        await using var observer = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netobs"));
        await SubscribeAsync(observer, willTopic, MqttQualityOfServiceLevel.AtLeastOnce);
        await using (var polite = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netpolite"), configure: b => b
            .WithWillTopic(willTopic)
            .WithWillPayload("must not appear")))
        {
            await polite.Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
        }

        await observer.ExpectNoMessageAsync();
    }

    [Fact]
    public async Task Ping_MqttNetPingIsAnswered()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var peer = await MqttNetPeer.ConnectAsync(broker, TestIds.Client("netping"));

        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        await peer.Client.PingAsync(cts.Token);
        Assert.True(peer.Client.IsConnected);
    }
}
