using System.Text;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Security;

/// <summary>SCRAM-SHA-256 through a real broker over TCP: CONNECT/AUTH/CONNACK and re-authentication (spec 4.12).</summary>
public sealed class ScramEndToEndTests
{
    private const string Method = "SCRAM-SHA-256";

    private static readonly Dictionary<string, string?> ScramSettings = new()
    {
        ["Auth:Scram:Enabled"] = "true",
        ["Auth:Users:0:Username"] = "alice",
        ["Auth:Users:0:Password"] = "wonderland",
        ["Auth:Users:1:Username"] = "bob",
        ["Auth:Users:1:Password"] = "builder",
    };

    [Fact]
    public async Task Mqtt_4_12_ScramConnectSucceedsAndServerProvesItKnowsThePassword()
    {
        await using var broker = await TestBroker.StartAsync(ScramSettings);
        await using var client = await broker.OpenRawAsync();
        var scram = new ScramTestClient("alice", "wonderland");

        var connAck = await ScramConnectAsync(client, scram);

        Assert.Equal((byte)ReasonCode.Success, connAck.ReasonCode);
        Assert.Equal(Method, connAck.Properties?.AuthenticationMethod);
        Assert.True(connAck.Properties?.AuthenticationData is { } data && scram.VerifyServerFinal(data.Span), "CONNACK must carry a valid server-final-message\n" + client.Transcript);

        // The connection works as any other.
        var topic = TestIds.Topic();
        await client.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        await client.SendAsync(new PublishPacket { Topic = topic, Payload = "hi"u8.ToArray() });
        var received = await client.ReceiveAsync<PublishPacket>();
        Assert.Equal(topic, received.Topic);
    }

    [Fact]
    public async Task Mqtt_4_12_WrongPasswordGetsConnAck0x87ThenClose()
    {
        await using var broker = await TestBroker.StartAsync(ScramSettings);
        await using var client = await broker.OpenRawAsync();

        var connAck = await ScramConnectAsync(client, new ScramTestClient("alice", "looking-glass"));

        Assert.Equal((byte)ReasonCode.NotAuthorized, connAck.ReasonCode);
        Assert.True(await client.WaitForCloseAsync(), "connection must be closed after CONNACK 0x87\n" + client.Transcript);
        await BrokerHealth.AssertServesAsync(broker);
    }

    [Fact]
    public async Task Mqtt_4_12_UnknownUserGetsAChallengeThenConnAck0x87()
    {
        await using var broker = await TestBroker.StartAsync(ScramSettings);
        await using var client = await broker.OpenRawAsync();

        // The challenge arrives as for a real user; only the proof fails.
        var connAck = await ScramConnectAsync(client, new ScramTestClient("mallory", "wonderland"));

        Assert.Equal((byte)ReasonCode.NotAuthorized, connAck.ReasonCode);
        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
    }

    [Fact]
    public async Task Mqtt_4_12_0_3_UnknownMethodGetsConnAck0x8C()
    {
        await using var broker = await TestBroker.StartAsync(ScramSettings);
        await using var client = await broker.OpenRawAsync();

        var connAck = await SendConnectAsync(client, "SCRAM-SHA-1", new ScramTestClient("alice", "wonderland").ClientFirst());

        Assert.Equal((byte)ReasonCode.BadAuthenticationMethod, connAck.ReasonCode);
        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
    }

    [Fact]
    public async Task ScramIsOffByDefault()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await broker.OpenRawAsync();

        var connAck = await SendConnectAsync(client, Method, new ScramTestClient("alice", "wonderland").ClientFirst());

        Assert.Equal((byte)ReasonCode.BadAuthenticationMethod, connAck.ReasonCode);
    }

    [Fact]
    public async Task Mqtt_4_12_0_5_PublishDuringTheExchangeClosesTheConnection()
    {
        await using var broker = await TestBroker.StartAsync(ScramSettings);
        await using var client = await broker.OpenRawAsync();
        client.Version = MqttProtocolVersion.V500;
        await client.SendAsync(Connect(Method, new ScramTestClient("alice", "wonderland").ClientFirst()));
        var challenge = await client.ReceiveAsync<AuthPacket>();
        Assert.Equal(ReasonCode.ContinueAuthentication, challenge.ReasonCode);

        await client.SendAsync(new PublishPacket { Topic = TestIds.Topic(), Payload = "sneaky"u8.ToArray() });

        Assert.True(await client.WaitForCloseAsync(), "PUBLISH during enhanced authentication must close the connection\n" + client.Transcript);
        await BrokerHealth.AssertServesAsync(broker);
    }

    [Fact]
    public async Task Mqtt_4_12_1_ReauthenticationRunsAFreshExchange()
    {
        await using var broker = await TestBroker.StartAsync(ScramSettings);
        await using var client = await broker.OpenRawAsync();
        var connAck = await ScramConnectAsync(client, new ScramTestClient("alice", "wonderland"));
        Assert.Equal((byte)ReasonCode.Success, connAck.ReasonCode);

        var again = new ScramTestClient("alice", "wonderland");
        await client.SendAsync(Auth(ReasonCode.ReAuthenticate, again.ClientFirst()));
        var challenge = await client.ReceiveAsync<AuthPacket>();
        Assert.Equal(ReasonCode.ContinueAuthentication, challenge.ReasonCode);
        Assert.Equal(Method, challenge.Properties?.AuthenticationMethod);
        await client.SendAsync(Auth(ReasonCode.ContinueAuthentication, again.ClientFinal(Data(challenge))));
        var done = await client.ReceiveAsync<AuthPacket>();

        Assert.Equal(ReasonCode.Success, done.ReasonCode);
        Assert.True(again.VerifyServerFinal(Data(done)), "AUTH 0x00 must carry a valid server-final-message\n" + client.Transcript);
        await client.SendAsync(PingReqPacket.Instance);
        await client.ReceiveAsync<PingRespPacket>();
    }

    [Fact]
    public async Task Mqtt_4_12_1_2_FailedReauthenticationDisconnects()
    {
        await using var broker = await TestBroker.StartAsync(ScramSettings);
        await using var client = await broker.OpenRawAsync();
        Assert.Equal((byte)ReasonCode.Success, (await ScramConnectAsync(client, new ScramTestClient("alice", "wonderland"))).ReasonCode);

        var wrong = new ScramTestClient("alice", "queen-of-hearts");
        await client.SendAsync(Auth(ReasonCode.ReAuthenticate, wrong.ClientFirst()));
        var challenge = await client.ReceiveAsync<AuthPacket>();
        await client.SendAsync(Auth(ReasonCode.ContinueAuthentication, wrong.ClientFinal(Data(challenge))));

        var disconnect = await client.ReceiveAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.NotAuthorized, disconnect.ReasonCode);
        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
    }

    /// <summary>CONNECT with client-first, answers the challenge with client-final, returns the CONNACK.</summary>
    private static async Task<ConnAckPacket> ScramConnectAsync(RawMqttClient client, ScramTestClient scram)
    {
        client.Version = MqttProtocolVersion.V500;
        await client.SendAsync(Connect(Method, scram.ClientFirst()));
        var challenge = await client.ReceiveAsync<AuthPacket>();
        Assert.Equal(ReasonCode.ContinueAuthentication, challenge.ReasonCode);
        Assert.Equal(Method, challenge.Properties?.AuthenticationMethod);

        await client.SendAsync(Auth(ReasonCode.ContinueAuthentication, scram.ClientFinal(Data(challenge))));
        return await client.ReceiveAsync<ConnAckPacket>();
    }

    private static async Task<ConnAckPacket> SendConnectAsync(RawMqttClient client, string method, byte[] data)
    {
        client.Version = MqttProtocolVersion.V500;
        await client.SendAsync(Connect(method, data));
        return await client.ReceiveAsync<ConnAckPacket>();
    }

    private static ConnectPacket Connect(string method, byte[] data) => new()
    {
        ProtocolVersion = MqttProtocolVersion.V500,
        ClientId = TestIds.Client("scram"),
        Properties = new MqttProperties { AuthenticationMethod = method, AuthenticationData = data },
    };

    private static AuthPacket Auth(ReasonCode reasonCode, byte[] data) => new()
    {
        ReasonCode = reasonCode,
        Properties = new MqttProperties { AuthenticationMethod = Method, AuthenticationData = data },
    };

    private static ReadOnlySpan<byte> Data(AuthPacket packet) =>
        packet.Properties?.AuthenticationData is { } data ? data.Span : throw new InvalidOperationException("AUTH without authentication data");
}
