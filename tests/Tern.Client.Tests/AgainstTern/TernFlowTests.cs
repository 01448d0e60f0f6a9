using System.Text;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Client.Tests;

/// <summary>Tern.Client against Tern's own broker (in-process, port 0): the flows a device and a backend rely on.</summary>
public sealed class TernFlowTests : IAsyncLifetime
{
    private TestBroker _broker = null!;

    private string Uri => $"mqtt://127.0.0.1:{_broker.Port}";

    public async Task InitializeAsync() => _broker = await TestBroker.StartAsync();

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Theory]
    [InlineData(MqttQoS.AtMostOnce)]
    [InlineData(MqttQoS.AtLeastOnce)]
    [InlineData(MqttQoS.ExactlyOnce)]
    public async Task Two_clients_exchange_messages_both_ways_at_each_qos(MqttQoS qos)
    {
        await using var device = await TestClient.ConnectAsync(Uri);
        await using var backend = await TestClient.ConnectAsync(Uri);
        string topic = TestClient.UniqueTopic("qos");
        Assert.Equal([(byte)qos], (await device.SubscribeAsync(topic + "/down", qos)).ReasonCodes);
        Assert.Equal([(byte)qos], (await backend.SubscribeAsync(topic + "/up", qos)).ReasonCodes);

        var up = await device.Client.PublishAsync(topic + "/up", "telemetry", qos).WaitAsync(EventLog.Timeout);
        var down = await backend.Client.PublishAsync(topic + "/down", "command", qos).WaitAsync(EventLog.Timeout);

        Assert.True(up.IsSuccess && down.IsSuccess);
        var atBackend = await backend.Events.WaitAsync<DataEventArgs>();
        var atDevice = await device.Events.WaitAsync<DataEventArgs>();
        Assert.Equal(("telemetry", qos), (atBackend.Message.PayloadText, atBackend.QoS));
        Assert.Equal(("command", qos), (atDevice.Message.PayloadText, atDevice.QoS));
        if (qos != MqttQoS.AtMostOnce)
        {
            Assert.Equal(up.MessageId, (await device.Events.WaitAsync<PublishedEventArgs>()).MessageId);
        }
    }

    [Fact]
    public async Task Large_payload_arrives_in_BufferSize_chunks_with_offsets()
    {
        await using var sub = await TestClient.ConnectAsync(Uri, o => o.BufferSize = 1024);
        await using var pub = await TestClient.ConnectAsync(Uri);
        string topic = TestClient.UniqueTopic("big");
        await sub.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        byte[] payload = new byte[100_000];
        new Random(4).NextBytes(payload);

        await pub.Client.PublishAsync(topic, payload, MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);

        var chunks = await sub.Events.WaitCountAsync<DataEventArgs>(98); // ceil(100000 / 1024)
        Assert.Equal(98, chunks.Count);
        Assert.Equal(topic, chunks[0].Topic);
        Assert.All(chunks.Skip(1), c => Assert.Null(c.Topic)); // the topic comes with the first chunk only, as in esp-mqtt
        Assert.All(chunks, c => Assert.Equal(100_000, c.TotalDataLength));
        Assert.All(chunks, c => Assert.InRange(c.Payload.Length, 1, 1024));
        Assert.Equal(Enumerable.Range(0, 98).Select(i => i * 1024), chunks.Select(c => c.CurrentDataOffset));
        Assert.Equal(payload, chunks.SelectMany(c => c.Payload.ToArray()).ToArray());
    }

    [Fact]
    public async Task Will_is_published_when_the_connection_dies_and_not_after_a_clean_stop()
    {
        string topic = TestClient.UniqueTopic("will");
        await using var watcher = await TestClient.ConnectAsync(Uri);
        await watcher.SubscribeAsync(topic + "/#", MqttQoS.AtLeastOnce);
        void Will(MqttClientOptions o, string name)
        {
            o.LastWillTopic = $"{topic}/{name}";
            o.LastWillText = name + " offline";
            o.LastWillQoS = MqttQoS.AtLeastOnce;
            o.AutoReconnect = false;
        }

        await using var polite = await TestClient.ConnectAsync(Uri, o => Will(o, "polite"));
        await using var crashing = await TestClient.ConnectAsync(Uri, o => Will(o, "crashing"));
        await polite.Client.StopAsync(); // sends DISCONNECT: the broker drops the will
        crashing.Client.AbortTransportForTest();

        var will = await watcher.Events.WaitAsync<DataEventArgs>();
        Assert.Equal(($"{topic}/crashing", "crashing offline", MqttQoS.AtLeastOnce), (will.Message.Topic, will.Message.PayloadText, will.QoS));
        Assert.DoesNotContain(watcher.Events.All<DataEventArgs>(), e => e.Message.Topic.EndsWith("/polite", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mqtt5_publish_and_subscribe_properties_reach_the_subscriber()
    {
        void V5(MqttClientOptions o) => o.ProtocolVersion = MqttProtocolVersion.V500;
        await using var sub = await TestClient.ConnectAsync(Uri, V5);
        await using var pub = await TestClient.ConnectAsync(Uri, V5);
        string topic = TestClient.UniqueTopic("v5");
        var granted = await sub.Client.SubscribeAsync(
            [new TopicSubscription(topic, new SubscriptionOptions(MqttQoS.AtLeastOnce))],
            new MqttProperties { SubscriptionIdentifiers = [42] }).WaitAsync(EventLog.Timeout);
        Assert.True(granted.IsSuccess);

        var result = await pub.Client.PublishAsync(topic, "{\"t\":21.5}", MqttQoS.AtLeastOnce, properties: new MqttProperties
        {
            ContentType = "application/json",
            PayloadFormatIndicator = 1,
            ResponseTopic = topic + "/reply",
            CorrelationData = Encoding.UTF8.GetBytes("req-1"),
            MessageExpiryInterval = 600,
            UserProperties = [new("unit", "celsius"), new("unit", "kelvin")],
        }).WaitAsync(EventLog.Timeout);

        Assert.Equal(ReasonCode.Success, result.ReasonCode);
        var p = (await sub.Events.WaitAsync<DataEventArgs>()).Properties!;
        Assert.Equal("application/json", p.ContentType);
        Assert.Equal((byte)1, p.PayloadFormatIndicator);
        Assert.Equal(topic + "/reply", p.ResponseTopic);
        Assert.Equal("req-1", Encoding.UTF8.GetString(p.CorrelationData!.Value.Span));
        Assert.InRange(p.MessageExpiryInterval!.Value, 1u, 600u);
        Assert.Equal([new("unit", "celsius"), new("unit", "kelvin")], p.UserProperties);
        Assert.Equal([42u], p.SubscriptionIdentifiers);
    }

    [Fact]
    public async Task Retained_message_is_delivered_on_subscribe_with_the_retain_flag()
    {
        await using var pub = await TestClient.ConnectAsync(Uri);
        string topic = TestClient.UniqueTopic("retained");
        await pub.Client.PublishAsync(topic, "last known", MqttQoS.AtLeastOnce, retain: true).WaitAsync(EventLog.Timeout);

        await using var sub = await TestClient.ConnectAsync(Uri);
        await sub.SubscribeAsync(topic, MqttQoS.AtLeastOnce);

        var data = await sub.Events.WaitAsync<DataEventArgs>();
        Assert.True(data.Retain);
        Assert.Equal("last known", data.Message.PayloadText);
    }
}
