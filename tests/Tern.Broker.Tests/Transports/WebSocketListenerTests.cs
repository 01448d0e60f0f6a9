using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Transports.Tests;

/// <summary>MQTT over WebSocket (<c>Listeners:Ws</c>, <c>Listeners:Wss</c>) with a raw ClientWebSocket that controls the framing.</summary>
public sealed class WebSocketListenerTests : IDisposable
{
    private static readonly byte[] ConnAckAccepted = [0x20, 0x02, 0x00, 0x00];
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Ws_listener_is_listed_with_its_path()
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        Assert.True(broker.Server.WsPort > 0);
        Assert.Contains($"ws://127.0.0.1:{broker.Server.WsPort}/mqtt", broker.Server.ListeningOn);
    }

    [Theory]
    [InlineData("mqtt")]
    [InlineData("mqttv3.1")]
    public async Task Accepts_the_mqtt_subprotocols_and_answers_with_the_one_offered(string subProtocol)
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        await using var ws = await WsTestClient.ConnectAsync(Uri(broker), subProtocol);
        Assert.Equal(subProtocol, ws.Socket.SubProtocol);

        await ws.SendMessagesAsync(RawPackets.Connect("ws-sub"));
        Assert.Equal(ConnAckAccepted, await ws.ReceivePacketAsync());
        await broker.Log.WaitForAsync("Client ws-sub connected from 127.0.0.1");
    }

    [Fact]
    public async Task A_packet_split_across_frames_and_messages_is_reassembled()
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        await using var ws = await WsTestClient.ConnectAsync(Uri(broker));
        var connect = RawPackets.Connect("ws-split");

        // Continuation frames of one message, then separate messages, each cutting a packet.
        await ws.SendFragmentsAsync(connect[..1], connect[1..5], connect[5..]);
        Assert.Equal(ConnAckAccepted, await ws.ReceivePacketAsync());

        var subscribe = RawPackets.Subscribe(1, "split/t", qos: 0);
        await ws.SendMessagesAsync(subscribe[..3], subscribe[3..]);
        Assert.Equal(0x90, (await ws.ReceivePacketAsync())[0]);
    }

    [Fact]
    public async Task Several_packets_in_one_frame_are_all_handled()
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        await using var ws = await WsTestClient.ConnectAsync(Uri(broker));

        await ws.SendMessagesAsync([.. RawPackets.Connect("ws-batch"), .. RawPackets.Subscribe(1, "batch/t"), .. RawPackets.Publish("batch/t", "hello"), .. RawPackets.PingReq]);

        Assert.Equal(ConnAckAccepted, await ws.ReceivePacketAsync());
        Assert.Equal(0x90, (await ws.ReceivePacketAsync())[0]);
        var publish = await ws.ReceivePacketAsync();
        Assert.Equal(0x30, publish[0] & 0xF0);
        Assert.EndsWith("hello", Encoding.UTF8.GetString(publish), StringComparison.Ordinal);
        Assert.Equal(new byte[] { 0xD0, 0x00 }, await ws.ReceivePacketAsync());
    }

    [Fact]
    public async Task WebSocket_and_tcp_clients_share_one_broker()
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        await using var tcp = await broker.Broker.ConnectAsync("tcp-sub");
        await tcp.SubscribeAsync("shared/t", MqttQoS.AtLeastOnce);

        await using var ws = await WsTestClient.ConnectAsync(Uri(broker));
        await ws.SendMessagesAsync(RawPackets.Connect("ws-pub"));
        Assert.Equal(ConnAckAccepted, await ws.ReceivePacketAsync());
        await ws.SendMessagesAsync(RawPackets.Publish("shared/t", "from ws"));

        var publish = await tcp.ReceivePublishAsync();
        Assert.Equal("from ws", Encoding.UTF8.GetString(publish.Payload.Span));
    }

    [Fact]
    public async Task Disconnect_ends_with_a_normal_close_handshake()
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        await using var ws = await WsTestClient.ConnectAsync(Uri(broker));
        await ws.SendMessagesAsync(RawPackets.Connect("ws-bye"));
        Assert.Equal(ConnAckAccepted, await ws.ReceivePacketAsync());

        await ws.SendMessagesAsync(RawPackets.Disconnect);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, await ws.ReceiveCloseAsync());
        await broker.Log.WaitForAsync("Client ws-bye disconnected");
    }

    [Fact]
    public async Task A_client_close_ends_the_mqtt_connection()
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        var ws = await WsTestClient.ConnectAsync(Uri(broker));
        await ws.SendMessagesAsync(RawPackets.Connect("ws-close"));
        Assert.Equal(ConnAckAccepted, await ws.ReceivePacketAsync());

        using var cts = new CancellationTokenSource(TestTimeouts.Close);
        await ws.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
        Assert.Equal(WebSocketState.Closed, ws.Socket.State);
        await ws.DisposeAsync();
        await broker.Log.WaitForAsync("Client ws-close disconnected");
    }

    [Fact]
    public async Task A_text_frame_closes_the_connection()
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        await using var ws = await WsTestClient.ConnectAsync(Uri(broker));
        await ws.SendMessagesAsync(RawPackets.Connect("ws-text"));
        Assert.Equal(ConnAckAccepted, await ws.ReceivePacketAsync());

        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        await ws.Socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, true, cts.Token);
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, await ws.ReceiveCloseAsync());
        await broker.Log.WaitForAsync("text frame received");
    }

    [Theory]
    [InlineData("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", "400")]
    [InlineData("GET /mqtt HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat\r\n\r\n", "400")]
    [InlineData("GET /mqtt HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", "400")]
    [InlineData("GET /other HTTP/1.1\r\nHost: x\r\n\r\n", "404")]
    public async Task Plain_http_wrong_subprotocol_and_wrong_path_are_refused(string request, string status)
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        using var tcp = new TcpClient();
        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        await tcp.ConnectAsync(IPAddress.Loopback, broker.Server.WsPort, cts.Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cts.Token);

        var buffer = new byte[512];
        var read = await stream.ReadAsync(buffer, cts.Token);
        Assert.StartsWith($"HTTP/1.1 {status}", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_web_socket_without_the_mqtt_subprotocol_is_refused()
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        await Assert.ThrowsAsync<WebSocketException>(() => WsTestClient.ConnectAsync(Uri(broker), "chat"));
    }

    [Fact]
    public async Task Wss_uses_the_tls_certificate_and_carries_mqtt()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings(wss: true));
        Assert.True(broker.Server.WssPort > 0);
        Assert.Contains($"wss://127.0.0.1:{broker.Server.WssPort}/mqtt", broker.Server.ListeningOn);

        await using var ws = await WsTestClient.ConnectAsync($"wss://127.0.0.1:{broker.Server.WssPort}/mqtt", caPem: _pki.CaPem);
        await ws.SendMessagesAsync(RawPackets.Connect("wss-1"));
        Assert.Equal(ConnAckAccepted, await ws.ReceivePacketAsync());
        await broker.Log.WaitForAsync("Client wss-1 connected from 127.0.0.1");
    }

    [Fact]
    public async Task A_custom_path_is_served_and_the_default_is_not()
    {
        var settings = TransportBroker.WebSocketSettings();
        settings["Listeners:Ws:Path"] = "/broker/ws";
        await using var broker = await TransportBroker.StartAsync(settings);
        Assert.Contains($"ws://127.0.0.1:{broker.Server.WsPort}/broker/ws", broker.Server.ListeningOn);

        await using var ws = await WsTestClient.ConnectAsync($"ws://127.0.0.1:{broker.Server.WsPort}/broker/ws");
        await ws.SendMessagesAsync(RawPackets.Connect("ws-path"));
        Assert.Equal(ConnAckAccepted, await ws.ReceivePacketAsync());
        await Assert.ThrowsAsync<WebSocketException>(() => WsTestClient.ConnectAsync(Uri(broker)));
    }

    private static string Uri(TransportBroker broker) => $"ws://127.0.0.1:{broker.Server.WsPort}/mqtt";
}
