using Tern.Protocol;

namespace Tern.Client.Tests;

public sealed class EndpointTests
{
    [Theory]
    [InlineData("mqtt://broker", MqttTransport.Tcp, 1883)]
    [InlineData("mqtts://broker", MqttTransport.Ssl, 8883)]
    [InlineData("ws://broker", MqttTransport.WebSocket, 80)]
    [InlineData("wss://broker", MqttTransport.SecureWebSocket, 443)]
    [InlineData("mqtt://broker:1884", MqttTransport.Tcp, 1884)]
    public void Uri_scheme_selects_transport_and_default_port(string uri, MqttTransport transport, int port)
    {
        var e = BrokerEndpoint.Resolve(new MqttClientOptions { Uri = uri });
        Assert.Equal(transport, e.Transport);
        Assert.Equal(port, e.Port);
        Assert.Equal("broker", e.Host);
    }

    [Fact]
    public void Uri_takes_precedence_and_carries_credentials_and_path()
    {
        var e = BrokerEndpoint.Resolve(new MqttClientOptions
        {
            Uri = "ws://user:p%40ss@broker:8083/custom",
            Host = "ignored",
            Port = 1,
            Username = "other",
        });
        Assert.Equal(("broker", 8083, "/custom", "user", "p@ss"), (e.Host, e.Port, e.Path, e.Username, e.Password));
    }

    [Fact]
    public void Host_and_port_without_uri_and_transport_override()
    {
        var e = BrokerEndpoint.Resolve(new MqttClientOptions { Host = "192.168.110.239", Port = 1884 });
        Assert.Equal((MqttTransport.Tcp, "192.168.110.239", 1884), (e.Transport, e.Host, e.Port));
        var s = BrokerEndpoint.Resolve(new MqttClientOptions { Uri = "mqtt://h", Transport = MqttTransport.Ssl });
        Assert.Equal((MqttTransport.Ssl, 8883), (s.Transport, s.Port));
    }

    [Fact]
    public void Bad_configuration_fails_at_start()
    {
        Assert.Throws<ArgumentException>(() => BrokerEndpoint.Resolve(new MqttClientOptions()));
        Assert.Throws<ArgumentException>(() => BrokerEndpoint.Resolve(new MqttClientOptions { Uri = "http://h" }));
    }

    [Fact]
    public void Defaults_mirror_esp_mqtt()
    {
        var o = new MqttClientOptions();
        Assert.Equal(TimeSpan.FromSeconds(120), o.KeepAlive);
        Assert.True(o.CleanSession);
        Assert.True(o.AutoReconnect);
        Assert.Equal(1024, o.BufferSize);
        Assert.Equal(MqttProtocolVersion.V311, o.ProtocolVersion);
        Assert.Equal(TimeSpan.FromSeconds(10), o.NetworkTimeout);
        Assert.Equal("/mqtt", o.WebSocketPath);
    }

    [Fact]
    public void Packet_ids_are_unique_among_those_in_use()
    {
        var ids = new PacketIdAllocator();
        var seen = new HashSet<ushort>();
        for (int i = 0; i < ushort.MaxValue; i++)
        {
            Assert.True(seen.Add(ids.Allocate()));
        }

        Assert.Equal(0, ids.Allocate());
        ids.Release(42);
        Assert.Equal(42, ids.Allocate());
        Assert.DoesNotContain((ushort)0, seen);
    }
}
