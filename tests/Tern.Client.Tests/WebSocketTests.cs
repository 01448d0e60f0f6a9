using Tern.Protocol;

namespace Tern.Client.Tests;

public sealed class WebSocketTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    [Fact]
    public async Task Ws_uri_connects_with_subprotocol_mqtt_and_round_trips_packets_spanning_frames()
    {
        await using var bridge = new WebSocketBridge(fixture.Broker.Port);
        string topic = TestClient.UniqueTopic("ws");
        await using var c = await TestClient.ConnectAsync($"ws://127.0.0.1:{bridge.Port}/mqtt");
        Assert.Equal("/mqtt", bridge.LastPath);
        Assert.Equal("mqtt", bridge.LastSubProtocol);

        await c.SubscribeAsync(topic, MqttQoS.ExactlyOnce);
        byte[] payload = new byte[3000];
        Random.Shared.NextBytes(payload);
        await c.Client.PublishAsync(topic, payload, MqttQoS.ExactlyOnce).WaitAsync(EventLog.Timeout);
        var data = await c.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic);
        Assert.Equal(payload, data.Message.Payload.ToArray());
    }

    [Fact]
    public async Task Host_port_and_WebSocket_transport_use_the_default_path()
    {
        await using var bridge = new WebSocketBridge(fixture.Broker.Port);
        await using var c = await TestClient.ConnectAsync("", o =>
        {
            o.Uri = null;
            o.Host = "127.0.0.1";
            o.Port = bridge.Port;
            o.Transport = MqttTransport.WebSocket;
        });
        Assert.Equal("/mqtt", bridge.LastPath);
    }
}
