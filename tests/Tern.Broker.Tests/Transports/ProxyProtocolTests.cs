using System.Net;
using System.Net.Sockets;
using System.Text;
using Tern.TestKit;

namespace Tern.Transports.Tests;

/// <summary>PROXY protocol v1/v2 on a listener: the broker sees the client's address from the header.</summary>
public sealed class ProxyProtocolTests : IDisposable
{
    private static readonly Dictionary<string, string?> Proxied = new() { ["Listeners:Tcp:ProxyProtocol"] = "true" };
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task V1_tcp4_header_gives_the_client_address()
    {
        await using var broker = await TransportBroker.StartAsync(Proxied);
        await using var client = await RawMqttClient.OpenAsync(broker.Broker.Port);
        await client.SendRawAsync(Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 192.0.2.1 51234 1883\r\n"));
        Assert.Equal(0, (await client.ConnectAsync("proxied-v1")).ReasonCode);
        await broker.Log.WaitForAsync("Client proxied-v1 connected from 203.0.113.7:51234");
    }

    [Fact]
    public async Task V1_tcp6_header_and_connect_in_one_write()
    {
        await using var broker = await TransportBroker.StartAsync(Proxied);
        await using var client = await RawMqttClient.OpenAsync(broker.Broker.Port);
        await client.SendRawAsync([.. Encoding.ASCII.GetBytes("PROXY TCP6 2001:db8::7 2001:db8::1 40000 1883\r\n"), .. RawPackets.Connect("proxied-v6")]);
        var connAck = Assert.IsType<Tern.Protocol.ConnAckPacket>(await client.ReceiveAnyAsync());
        Assert.Equal(0, connAck.ReasonCode);
        await broker.Log.WaitForAsync("Client proxied-v6 connected from [2001:db8::7]:40000");
    }

    [Fact]
    public async Task V2_ipv4_header_gives_the_client_address()
    {
        await using var broker = await TransportBroker.StartAsync(Proxied);
        await using var client = await RawMqttClient.OpenAsync(broker.Broker.Port);
        await client.SendRawAsync(V2Header(IPAddress.Parse("198.51.100.23"), 60001, IPAddress.Parse("192.0.2.1"), 1883));
        Assert.Equal(0, (await client.ConnectAsync("proxied-v2")).ReasonCode);
        await broker.Log.WaitForAsync("Client proxied-v2 connected from 198.51.100.23:60001");
    }

    [Fact]
    public async Task V2_local_command_keeps_the_socket_address()
    {
        await using var broker = await TransportBroker.StartAsync(Proxied);
        await using var client = await RawMqttClient.OpenAsync(broker.Broker.Port);
        byte[] local = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00];
        await client.SendRawAsync(local);
        Assert.Equal(0, (await client.ConnectAsync("proxied-local")).ReasonCode);
        await broker.Log.WaitForAsync("Client proxied-local connected from 127.0.0.1");
    }

    [Theory]
    [InlineData("no header")]
    [InlineData("PROXY TCP4 not-an-ip 192.0.2.1 1 2\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7 192.0.2.1 51234 1883 and a lot more text that makes this line far longer than the spec's limit of 107 bytes\r\n")]
    public async Task A_connection_without_a_valid_header_is_closed(string start)
    {
        await using var broker = await TransportBroker.StartAsync(Proxied);
        await using var client = await RawMqttClient.OpenAsync(broker.Broker.Port);
        var bytes = start == "no header" ? RawPackets.Connect("unproxied") : Encoding.ASCII.GetBytes(start);
        await client.SendRawAsync(bytes);
        Assert.True(await client.WaitForCloseAsync(), "the broker kept a connection without a valid PROXY header open");
        await broker.Log.WaitForAsync("invalid PROXY protocol header");
    }

    [Fact]
    public async Task Tls_listener_reads_the_header_before_the_handshake()
    {
        var settings = _pki.TlsSettings();
        settings["Listeners:Tls:ProxyProtocol"] = "true";
        await using var broker = await TransportBroker.StartAsync(settings);

        using var tcp = new TcpClient(AddressFamily.InterNetwork);
        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        await tcp.ConnectAsync(IPAddress.Loopback, broker.Server.TlsPort, cts.Token);
        await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.99 192.0.2.1 50000 8883\r\n"), cts.Token);
        await using var ssl = new System.Net.Security.SslStream(tcp.GetStream(), leaveInnerStreamOpen: true, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions { TargetHost = "localhost" }, cts.Token);
        await ssl.WriteAsync(RawPackets.Connect("proxied-tls"), cts.Token);
        var connAck = new byte[4];
        await ssl.ReadExactlyAsync(connAck, cts.Token);
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connAck);
        await broker.Log.WaitForAsync("Client proxied-tls connected from 203.0.113.99:50000");
    }

    private static byte[] V2Header(IPAddress source, ushort sourcePort, IPAddress destination, ushort destinationPort)
    {
        byte[] signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
        return
        [
            .. signature,
            0x21, // version 2, PROXY
            0x11, // AF_INET, STREAM
            0x00, 12,
            .. source.GetAddressBytes(),
            .. destination.GetAddressBytes(),
            (byte)(sourcePort >> 8), (byte)sourcePort,
            (byte)(destinationPort >> 8), (byte)destinationPort,
        ];
    }
}
