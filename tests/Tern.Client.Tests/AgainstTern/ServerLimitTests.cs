using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Client.Tests;

/// <summary>
/// An MQTT 5 server announces its limits in CONNACK (Maximum QoS, Retain Available, Maximum Packet
/// Size): the client refuses a message above them before sending it, instead of being disconnected.
/// </summary>
public sealed class ServerLimitTests
{
    private static async Task<TestBroker> StartBrokerAsync(string key, string value)
        => await TestBroker.StartAsync(new Dictionary<string, string?> { [key] = value });

    private static Task<TestClient> Connect5(TestBroker broker)
        => TestClient.ConnectAsync($"mqtt://127.0.0.1:{broker.Port}", o => o.ProtocolVersion = MqttProtocolVersion.V500);

    [Fact]
    public async Task QoS_above_the_server_maximum_fails_before_sending_and_the_connection_stays()
    {
        await using var broker = await StartBrokerAsync("Broker:MaximumQoS", "1");
        await using var c = await Connect5(broker);

        var error = await Assert.ThrowsAsync<MqttClientException>(() => c.Client.PublishAsync("t", "x", MqttQoS.ExactlyOnce).WaitAsync(EventLog.Timeout));
        Assert.Equal("QoS 2 is above the server's maximum QoS 1 (from its CONNACK).", error.Message);
        Assert.Equal(ReasonCode.QoSNotSupported, error.ReasonCode);
        Assert.Equal(-1, c.Client.Publish("t", "x", MqttQoS.ExactlyOnce)); // as esp_mqtt_client_publish

        await AssertStillConnectedAsync(c, new byte[1]);
    }

    /// <summary>A QoS 1 message gets its PUBACK and no Disconnected came first (events keep their order).</summary>
    private static async Task AssertStillConnectedAsync(TestClient c, byte[] payload)
    {
        int id = c.Client.Publish("t", payload, MqttQoS.AtLeastOnce);
        var published = await c.Events.WaitAsync<PublishedEventArgs>(e => e.MessageId == id);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, published.ReasonCode); // accepted; nobody subscribed
        Assert.Empty(c.Events.All<DisconnectedEventArgs>());
    }

    [Theory]
    [InlineData(MqttQoS.AtMostOnce, 307)]
    [InlineData(MqttQoS.AtLeastOnce, 309)]
    public async Task A_message_above_the_server_maximum_packet_size_fails_with_both_sizes(MqttQoS qos, int packetSize)
    {
        await using var broker = await StartBrokerAsync("Broker:MaxPacketSize", "100");
        await using var c = await Connect5(broker);
        byte[] payload = new byte[300];

        var error = await Assert.ThrowsAsync<MqttClientException>(() => c.Client.PublishAsync("t", payload, qos).WaitAsync(EventLog.Timeout));
        Assert.Equal($"The message is {packetSize} bytes as a PUBLISH packet, above the server's maximum packet size of 100 bytes (from its CONNACK).", error.Message);
        Assert.Equal(ReasonCode.PacketTooLarge, error.ReasonCode);
        Assert.Equal(-1, c.Client.Publish("t", payload, qos));

        await AssertStillConnectedAsync(c, new byte[50]);
    }

    [Fact]
    public async Task Retain_fails_when_the_server_has_no_retained_messages()
    {
        await using var broker = await StartBrokerAsync("Broker:RetainAvailable", "false");
        await using var c = await Connect5(broker);

        var error = await Assert.ThrowsAsync<MqttClientException>(() => c.Client.PublishAsync("t", "x", MqttQoS.AtLeastOnce, retain: true).WaitAsync(EventLog.Timeout));

        Assert.Equal(ReasonCode.RetainNotSupported, error.ReasonCode);
        Assert.Equal("The server does not accept retained messages (Retain Available = 0 in its CONNACK).", error.Message);
    }

    [Fact]
    public async Task A_message_queued_offline_above_the_limit_is_deleted_on_connect_and_its_awaiter_told_why()
    {
        await using var broker = await StartBrokerAsync("Broker:MaximumQoS", "1");
        await using var c = TestClient.For($"mqtt://127.0.0.1:{broker.Port}", o => o.ProtocolVersion = MqttProtocolVersion.V500);
        var queued = c.Client.PublishAsync("t", "x", MqttQoS.ExactlyOnce); // offline: goes to the outbox

        await c.Client.StartAsync();

        var error = await Assert.ThrowsAsync<MqttClientException>(() => queued.WaitAsync(EventLog.Timeout));
        Assert.Equal(ReasonCode.QoSNotSupported, error.ReasonCode);
        var deleted = await c.Events.WaitAsync<DeletedEventArgs>();
        Assert.Equal(("t", MqttQoS.ExactlyOnce), (deleted.Topic, deleted.QoS));
        Assert.Equal(0, c.Client.OutboxCount);
    }
}
