using System.Text;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Acl;

/// <summary>
/// Access control through a real broker: denied PUBLISH and SUBSCRIBE in 3.1.1 and 5.0, every rule form,
/// rule order, defaults and <c>$SYS</c>. "Nothing arrived" is shown without waiting: after the denied
/// message a permitted marker is published, and it must be the first thing the subscriber receives.
/// </summary>
public sealed class AclBrokerTests
{
    private const byte Refused311 = 0x80;
    private const byte NotAuthorized = (byte)ReasonCode.NotAuthorized;

    [Fact]
    public async Task DeniedPublish311_IsAcknowledgedButNotDelivered()
    {
        using var acl = new AclTestFile("""{ "rules": [ { "allow": false, "all": true, "action": "publish", "topic": "secret/#" } ] }""");
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Acl:File"] = acl.Path });
        await using var sub = await broker.ConnectAsync(TestIds.Client("sub"));
        var ack = await sub.SubscribeAsync(("secret/#", MqttQoS.ExactlyOnce), ("marker", MqttQoS.AtLeastOnce));
        Assert.Equal([2, 1], ack.ReasonCodes);
        await using var pub = await broker.ConnectAsync(TestIds.Client("pub"));

        // The QoS 1 and QoS 2 flows complete as if the messages had been accepted.
        await pub.PublishAsync("secret/a", "q0");
        await pub.PublishAsync("secret/a", "q1", MqttQoS.AtLeastOnce);
        await pub.PublishAsync("secret/a", "q2", MqttQoS.ExactlyOnce);
        await pub.PublishAsync("marker", "after", MqttQoS.AtLeastOnce);

        var first = await sub.ReceivePublishAsync();
        Assert.Equal("marker", first.Topic);
        await BrokerHealth.AssertServesAsync(broker, pub, sub);
    }

    [Fact]
    public async Task DeniedPublish5_GetsPubAck0x87AtQoS1AndPubRec0x87AtQoS2()
    {
        using var acl = new AclTestFile("""{ "rules": [ { "allow": false, "all": true, "action": "publish", "topic": "secret/#" } ] }""");
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Acl:File"] = acl.Path });
        await using var sub = await broker.ConnectV5Async(TestIds.Client("sub"));
        await sub.SubscribeV5GrantedAsync("secret/#", MqttQoS.ExactlyOnce);
        await sub.SubscribeV5GrantedAsync("marker", MqttQoS.AtLeastOnce);
        await using var pub = await broker.ConnectV5Async(TestIds.Client("pub"));

        var pubAck = await pub.PublishQoS1V5Async("secret/a", "q1");
        Assert.Equal(ReasonCode.NotAuthorized, pubAck.ReasonCode);

        var id = await pub.SendPublishV5Async("secret/a", "q2", MqttQoS.ExactlyOnce);
        var pubRec = await pub.ReceiveAckAsync<PubRecPacket>();
        Assert.Equal(id, pubRec.PacketId);
        Assert.Equal(ReasonCode.NotAuthorized, pubRec.ReasonCode);

        // A PUBREC with a failure code ends the exchange: the same packet id is free for a new message.
        await pub.SendAsync(new PublishPacket { Topic = "marker", Payload = "after"u8.ToArray(), QoS = MqttQoS.ExactlyOnce, PacketId = id });
        await pub.CompletePublishFlowAsync(MqttQoS.ExactlyOnce, id);

        await sub.ExpectPublishAsync("marker", "after");
        await BrokerHealth.AssertServesAsync(broker, pub, sub);
    }

    [Fact]
    public async Task DeniedSubscribeFilter_Gets0x80In311_WhileTheOtherFiltersAreGranted()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Acl:Rules:0:Allow"] = "false",
            ["Acl:Rules:0:All"] = "true",
            ["Acl:Rules:0:Action"] = "subscribe",
            ["Acl:Rules:0:Topic"] = "secret/#",
        });
        await using var client = await broker.ConnectAsync(TestIds.Client());

        var ack = await client.SubscribeAsync(("open/#", MqttQoS.AtLeastOnce), ("secret/x", MqttQoS.AtLeastOnce), ("#", MqttQoS.AtMostOnce), ("marker", MqttQoS.AtMostOnce));

        // '#' overlaps the denied subtree, so it is refused too.
        Assert.Equal([1, Refused311, Refused311, 0], ack.ReasonCodes);
        await client.PublishAsync("secret/x", "not for you", MqttQoS.AtLeastOnce);
        await client.PublishAsync("marker", "m");
        Assert.Equal("marker", (await client.ReceivePublishAsync()).Topic);
    }

    [Fact]
    public async Task DeniedSubscribeFilter_Gets0x87In5_WhileTheOtherFiltersAreGranted()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Acl:Rules:0:Allow"] = "false",
            ["Acl:Rules:0:All"] = "true",
            ["Acl:Rules:0:Action"] = "subscribe",
            ["Acl:Rules:0:Topic"] = "secret/#",
        });
        await using var client = await broker.ConnectV5Async(TestIds.Client());

        var ack = await client.SubscribeAsync(("open/#", MqttQoS.ExactlyOnce), ("secret/x", MqttQoS.AtLeastOnce), ("$share/g/secret/y", MqttQoS.AtLeastOnce), ("$share/g/open/y", MqttQoS.AtMostOnce));

        Assert.Equal([2, NotAuthorized, NotAuthorized, 0], ack.ReasonCodes);
    }

    [Fact]
    public async Task UserPlaceholder_LimitsEachUserToTheirOwnSubtree()
    {
        using var acl = new AclTestFile("""
            { "default": "deny", "rules": [
                { "allow": true, "all": true, "action": "all", "topic": "users/%u/#" },
                { "allow": true, "all": true, "action": "all", "topic": "marker" } ] }
            """);
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Acl:File"] = acl.Path });
        await using var alice = await ConnectAsUserAsync(broker, "alice");
        await using var bob = await ConnectAsUserAsync(broker, "bob");
        await using var anonymous = await broker.ConnectAsync(TestIds.Client("anon"));

        Assert.Equal([1, Refused311, 0], (await alice.SubscribeAsync(("users/alice/#", MqttQoS.AtLeastOnce), ("users/bob/#", MqttQoS.AtLeastOnce), ("marker", MqttQoS.AtMostOnce))).ReasonCodes);
        Assert.Equal([1, Refused311, Refused311], (await bob.SubscribeAsync(("users/bob/#", MqttQoS.AtLeastOnce), ("users/+/inbox", MqttQoS.AtLeastOnce), ("#", MqttQoS.AtLeastOnce))).ReasonCodes);
        Assert.Equal([Refused311], (await anonymous.SubscribeAsync(("users//#", MqttQoS.AtLeastOnce))).ReasonCodes);

        // Alice cannot write into Bob's subtree; Bob's own message arrives first.
        await alice.PublishAsync("users/bob/inbox", "from alice", MqttQoS.AtLeastOnce);
        await bob.PublishAsync("users/bob/inbox", "from bob", MqttQoS.AtLeastOnce);
        await bob.ExpectPublishAsync("users/bob/inbox", "from bob");

        await alice.PublishAsync("users/alice/notes", "mine", MqttQoS.AtLeastOnce);
        await alice.ExpectPublishAsync("users/alice/notes", "mine");
    }

    [Fact]
    public async Task ClientIdPlaceholderAndClientIdRule()
    {
        using var acl = new AclTestFile("""
            { "default": "deny", "rules": [
                { "allow": true, "clientId": "dashboard", "action": "subscribe", "topic": "#" },
                { "allow": true, "all": true, "action": "publish", "topic": "devices/%c/state" } ] }
            """);
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Acl:File"] = acl.Path });
        await using var dashboard = await broker.ConnectAsync("dashboard");
        await using var other = await broker.ConnectAsync(TestIds.Client("other"));
        var device = TestIds.Client("dev");
        await using var deviceClient = await broker.ConnectAsync(device);

        await dashboard.SubscribeGrantedAsync("#", MqttQoS.AtLeastOnce);
        Assert.Equal([Refused311], (await other.SubscribeAsync(("#", MqttQoS.AtLeastOnce))).ReasonCodes);

        await deviceClient.PublishAsync("devices/someone-else/state", "spoofed", MqttQoS.AtLeastOnce);
        await deviceClient.PublishAsync($"devices/{device}/state", "on", MqttQoS.AtLeastOnce);
        await dashboard.ExpectPublishAsync($"devices/{device}/state", "on");
    }

    [Fact]
    public async Task NetworkRules_MatchTheClientAddress()
    {
        using var acl = new AclTestFile("""
            { "default": "deny", "rules": [
                { "allow": true, "ip": "10.0.0.0/8", "action": "subscribe", "topic": "lan/#" },
                { "allow": true, "ip": "127.0.0.1/32", "action": "subscribe", "topic": "local/#" },
                { "allow": true, "ip": "::1", "action": "subscribe", "topic": "v6/#" } ] }
            """);
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Acl:File"] = acl.Path });
        await using var client = await broker.ConnectAsync(TestIds.Client());

        var ack = await client.SubscribeAsync(("lan/#", MqttQoS.AtMostOnce), ("local/#", MqttQoS.AtMostOnce), ("v6/#", MqttQoS.AtMostOnce));

        Assert.Equal([Refused311, 0, Refused311], ack.ReasonCodes);
    }

    [Fact]
    public async Task FirstMatchingRuleWins()
    {
        using var acl = new AclTestFile("""
            { "default": "deny", "rules": [
                { "allow": false, "all": true, "action": "all", "topic": "home/alarm/#" },
                { "allow": true, "all": true, "action": "all", "topic": "home/#" },
                { "allow": false, "all": true, "action": "all", "topic": "home/lights/#" } ] }
            """);
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Acl:File"] = acl.Path });
        await using var client = await broker.ConnectV5Async(TestIds.Client());

        var ack = await client.SubscribeAsync(("home/lights/#", MqttQoS.AtLeastOnce), ("home/alarm/state", MqttQoS.AtLeastOnce), ("home/#", MqttQoS.AtLeastOnce));
        Assert.Equal([1, NotAuthorized, NotAuthorized], ack.ReasonCodes);
        Assert.Equal(ReasonCode.Success, (await client.PublishQoS1V5Async("home/lights/kitchen", "on")).ReasonCode);
        Assert.Equal(ReasonCode.NotAuthorized, (await client.PublishQoS1V5Async("home/alarm/arm", "on")).ReasonCode);
    }

    [Theory]
    [InlineData("deny", false)]
    [InlineData("allow", true)]
    public async Task DefaultDecidesWhenNoRuleApplies(string @default, bool allowed)
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Acl:Default"] = @default });
        await using var client = await broker.ConnectV5Async(TestIds.Client());

        var ack = await client.SubscribeV5Async("any/topic", MqttQoS.AtLeastOnce);
        var pubAck = await client.PublishQoS1V5Async("any/topic", "x");

        Assert.Equal(allowed ? (byte)1 : NotAuthorized, ack.ReasonCodes[0]);
        Assert.Equal(allowed ? ReasonCode.Success : ReasonCode.NotAuthorized, pubAck.ReasonCode);
    }

    [Fact]
    public async Task Sys_IsReadableOnlyWithAnExplicitAllow()
    {
        using var acl = new AclTestFile("""
            { "default": "allow", "rules": [
                { "allow": true, "user": "admin", "action": "subscribe", "topic": "$SYS/#" } ] }
            """);
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Acl:File"] = acl.Path });
        await using var user = await ConnectAsUserAsync(broker, "bob");
        await using var admin = await ConnectAsUserAsync(broker, "admin");

        Assert.Equal([Refused311, Refused311, 0], (await user.SubscribeAsync(("$SYS/#", MqttQoS.AtMostOnce), ("$SYS/broker/version", MqttQoS.AtMostOnce), ("#", MqttQoS.AtMostOnce))).ReasonCodes);

        await admin.SubscribeGrantedAsync("$SYS/broker/version", MqttQoS.AtMostOnce);
        var version = await admin.ReceivePublishAsync();
        Assert.Equal("$SYS/broker/version", version.Topic);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task JwtAclClaim_IsCheckedBeforeTheConfiguredRules_AndAppliesWithoutAnAclSection(bool withAclSection)
    {
        const string Secret = "a-shared-secret-of-at-least-32-bytes!";
        var settings = new Dictionary<string, string?>
        {
            ["Auth:Jwt:Enabled"] = "true",
            ["Auth:Jwt:Algorithm"] = "HS256",
            ["Auth:Jwt:Secret"] = Secret,
        };
        if (withAclSection)
        {
            // The global rules would allow everything; the token's claim still limits its holder.
            settings["Acl:Rules:0:Allow"] = "true";
            settings["Acl:Rules:0:All"] = "true";
            settings["Acl:Rules:0:Action"] = "all";
            settings["Acl:Rules:0:Topic"] = "#";
        }

        await using var broker = await TestBroker.StartAsync(settings);
        var token = Auth.AuthTestSupport.Hs256(Secret, new
        {
            sub = "pump-7",
            exp = Auth.AuthTestSupport.InSeconds(300),
            acl = new { pub = new[] { "pumps/%u/#" }, sub = new[] { "pumps/%u/cmd" } },
        });
        await using var pump = await broker.OpenRawAsync();
        Assert.Equal(0, (await pump.ConnectAsync(TestIds.Client("pump"), version: MqttProtocolVersion.V500, username: "pump-7", password: Encoding.UTF8.GetBytes(token))).ReasonCode);
        await using var anonymous = await broker.ConnectV5Async(TestIds.Client("anon"));

        Assert.Equal(ReasonCode.NoMatchingSubscribers, (await pump.PublishQoS1V5Async("pumps/pump-7/state", "on")).ReasonCode);
        Assert.Equal(ReasonCode.NotAuthorized, (await pump.PublishQoS1V5Async("pumps/pump-8/state", "on")).ReasonCode);
        Assert.Equal([1, NotAuthorized, NotAuthorized], (await pump.SubscribeAsync(("pumps/pump-7/cmd", MqttQoS.AtLeastOnce), ("pumps/#", MqttQoS.AtLeastOnce), ("#", MqttQoS.AtLeastOnce))).ReasonCodes);

        // Clients without a claim are unaffected.
        Assert.Equal(ReasonCode.NoMatchingSubscribers, (await anonymous.PublishQoS1V5Async("pumps/pump-8/state", "on")).ReasonCode);
    }

    private static async Task<RawMqttClient> ConnectAsUserAsync(TestBroker broker, string username)
    {
        var client = await broker.OpenRawAsync();
        var connAck = await client.ConnectAsync(TestIds.Client(username), username: username, password: "x"u8.ToArray());
        Assert.Equal(0, connAck.ReasonCode);
        return client;
    }
}
