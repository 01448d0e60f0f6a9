using System.Text;
using Tern.Protocol;

namespace Tern.Client.Tests;

public sealed class Mqtt5Tests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly string _uri = fixture.Broker.Uri;

    private Task<TestClient> Connect5(Action<MqttClientOptions>? more = null) => TestClient.ConnectAsync(_uri, o =>
    {
        o.ProtocolVersion = MqttProtocolVersion.V500;
        more?.Invoke(o);
    });

    [Fact]
    public async Task Connect_with_v5_properties_reports_server_capabilities()
    {
        await using var c = await Connect5(o =>
        {
            o.SessionExpiryInterval = 60;
            o.ReceiveMaximum = 50;
            o.MaximumPacketSize = 1_000_000;
            o.TopicAliasMaximum = 5;
            o.UserProperties = [new MqttUserProperty("device", "esp32")];
        });
        var connected = await c.Events.WaitAsync<ConnectedEventArgs>();
        Assert.Equal(MqttProtocolVersion.V500, connected.ProtocolVersion);
        Assert.NotNull(connected.Properties);
    }

    [Fact]
    public async Task Publish_properties_round_trip()
    {
        string topic = TestClient.UniqueTopic("v5");
        await using var c = await Connect5();
        await c.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        var properties = new MqttProperties
        {
            ContentType = "application/json",
            ResponseTopic = topic + "/reply",
            CorrelationData = Encoding.UTF8.GetBytes("req-42"),
            PayloadFormatIndicator = 1,
            MessageExpiryInterval = 300,
            UserProperties = [new MqttUserProperty("a", "1"), new MqttUserProperty("a", "2"), new MqttUserProperty("b", "x")],
        };

        var result = await c.Client.PublishAsync(topic, "{}", MqttQoS.AtLeastOnce, properties: properties).WaitAsync(EventLog.Timeout);
        Assert.True(result.IsSuccess);
        var data = await c.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic);
        var p = data.Properties!;
        Assert.Equal("application/json", p.ContentType);
        Assert.Equal(topic + "/reply", p.ResponseTopic);
        Assert.Equal("req-42", Encoding.UTF8.GetString(p.CorrelationData!.Value.Span));
        Assert.Equal((byte)1, p.PayloadFormatIndicator);
        Assert.NotNull(p.MessageExpiryInterval);
        Assert.Equal(properties.UserProperties, p.UserProperties);
    }

    [Fact]
    public async Task Subscribe_options_no_local_and_subscription_identifier()
    {
        string topic = TestClient.UniqueTopic("v5");
        await using var c = await Connect5();
        await using var other = await Connect5();
        var sub = await c.Client.SubscribeAsync(
            [new TopicSubscription(topic, new SubscriptionOptions(MqttQoS.AtLeastOnce, NoLocal: true))],
            new MqttProperties { SubscriptionIdentifiers = [7] }).WaitAsync(EventLog.Timeout);
        Assert.Equal([(byte)1], sub.ReasonCodes);

        await c.Client.PublishAsync(topic, "own", MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        await other.Client.PublishAsync(topic, "other", MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        var data = await c.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic);
        Assert.Equal("other", data.Message.PayloadText);
        Assert.Equal([7u], data.Properties!.SubscriptionIdentifiers);
        Assert.DoesNotContain(c.Events.All<DataEventArgs>(), e => e.Message.PayloadText == "own");
    }

    [Fact]
    public async Task Retained_message_arrives_with_retain_flag_and_qos2_flow_completes()
    {
        string topic = TestClient.UniqueTopic("v5");
        await using var c = await Connect5();
        await c.Client.PublishAsync(topic, "kept", MqttQoS.ExactlyOnce, retain: true).WaitAsync(EventLog.Timeout);
        await c.SubscribeAsync(topic, MqttQoS.ExactlyOnce);
        var data = await c.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic);
        Assert.True(data.Retain);
        Assert.Equal(MqttQoS.ExactlyOnce, data.QoS);
        await c.Client.PublishAsync(topic, ReadOnlyMemory<byte>.Empty, MqttQoS.AtLeastOnce, retain: true).WaitAsync(EventLog.Timeout);
    }
}
