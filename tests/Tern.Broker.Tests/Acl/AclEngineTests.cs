using Tern.Broker;
using System.Net;
using System.Text;
using Tern.Server;
using Tern.Server.Security;

namespace Tern.Broker.Tests.Acl;

/// <summary>The ACL rule engine without a broker: filter relations, networks, rule order, defaults, placeholders.</summary>
public sealed class AclEngineTests
{
    private static readonly IPAddress Loopback = IPAddress.Loopback;

    [Theory]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/c", false)]
    [InlineData("a/+", "a/b", true)]
    [InlineData("a/+", "a/b/c", false)]
    [InlineData("a/#", "a", true)]
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("#", "$SYS/broker/uptime", false)]
    [InlineData("+/broker/uptime", "$SYS/broker/uptime", false)]
    [InlineData("$SYS/#", "$SYS/broker/uptime", true)]
    [InlineData("a//b", "a//b", true)]
    [InlineData("a/+/b", "a//b", true)]
    [InlineData("users/%u/#", "users/alice/x", true)]
    [InlineData("users/%u/#", "users/alice", true)]
    [InlineData("users/%u/#", "users/bob/x", false)]
    [InlineData("users/%u/#", "users/alicex/x", false)]
    [InlineData("dev-%c/%u", "dev-c1/alice", true)]
    [InlineData("dev-%c/%u", "dev-c2/alice", false)]
    [InlineData("%c-%u/x", "c1-alice/x", true)]
    [InlineData("100%/x", "100%/x", true)]
    public void PublishMatchesLevelByLevelWithPlaceholders(string rule, string topic, bool expected)
    {
        var pattern = Pattern(rule);
        Assert.Equal(AclPlaceholderState.Usable, pattern.CheckPlaceholders("alice", "c1"));
        Assert.Equal(expected, pattern.Matches(topic, "alice", "c1"));

        // The same answer as the protocol's matcher on the substituted filter.
        Assert.Equal(Tern.Protocol.MqttTopic.Matches(rule.Replace("%u", "alice", StringComparison.Ordinal).Replace("%c", "c1", StringComparison.Ordinal), topic), expected);
    }

    [Theory]
    [InlineData("sensors/#", "sensors/+/temp", true)]
    [InlineData("sensors/#", "sensors/#", true)]
    [InlineData("sensors/#", "sensors", true)]
    [InlineData("sensors/#", "#", false)]
    [InlineData("sensors/#", "+/temp", false)]
    [InlineData("sensors/+", "sensors/a", true)]
    [InlineData("sensors/+", "sensors/+", true)]
    [InlineData("sensors/+", "sensors/#", false)]
    [InlineData("sensors/+", "sensors/a/b", false)]
    [InlineData("a/+/#", "a/b", true)]
    [InlineData("a/+/#", "a/#", false)]
    [InlineData("#", "#", true)]
    [InlineData("#", "$SYS/#", false)]
    [InlineData("+/#", "$SYS/x", false)]
    [InlineData("$SYS/#", "$SYS/broker/+", true)]
    [InlineData("a/b", "a/+", false)]
    [InlineData("users/%u/#", "users/alice/+/x", true)]
    [InlineData("users/%u/#", "users/+/x", false)]
    public void AllowRuleCoversOnlyEqualOrNarrowerFilters(string rule, string filter, bool expected)
    {
        Assert.Equal(expected, Pattern(rule).Covers(filter, "alice", "c1"));
    }

    [Theory]
    [InlineData("secret/#", "#", true)]
    [InlineData("secret/#", "+/x", true)]
    [InlineData("secret/#", "secret", true)]
    [InlineData("secret/#", "public/#", false)]
    [InlineData("secret/x", "+/+", true)]
    [InlineData("secret/x", "+", false)]
    [InlineData("secret/x", "secret/#", true)]
    [InlineData("secret", "secret/#", true)]
    [InlineData("secret", "secret/+", false)]
    [InlineData("a/+/c", "a/b/+", true)]
    [InlineData("a/+/c", "a/b/d", false)]
    [InlineData("$SYS/#", "#", false)]
    [InlineData("$SYS/#", "+/broker", false)]
    [InlineData("#", "$SYS/x", false)]
    [InlineData("+/x", "$SYS/x", false)]
    [InlineData("$SYS/#", "$SYS/x", true)]
    [InlineData("users/%u/private/#", "users/+/private/x", true)]
    [InlineData("users/%u/private/#", "users/bob/#", false)]
    public void DenyRuleAppliesToOverlappingFilters(string rule, string filter, bool expected)
    {
        Assert.Equal(expected, Pattern(rule).Overlaps(filter, "alice", "c1"));
    }

    [Theory]
    [InlineData("127.0.0.1/32", "127.0.0.1", true)]
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("127.0.0.1/32", "127.0.0.2", false)]
    [InlineData("10.0.0.0/8", "10.200.3.4", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("10.0.0.0/8", "127.0.0.1", false)]
    [InlineData("192.168.0.0/23", "192.168.1.255", true)]
    [InlineData("192.168.0.0/23", "192.168.2.0", false)]
    [InlineData("0.0.0.0/0", "8.8.8.8", true)]
    [InlineData("10.0.0.0/8", "::ffff:10.1.2.3", true)]
    [InlineData("::ffff:10.0.0.0/104", "10.1.2.3", true)]
    [InlineData("::1", "::1", true)]
    [InlineData("::1", "127.0.0.1", false)]
    [InlineData("fd00::/8", "fd12:3456::1", true)]
    [InlineData("fd00::/8", "fe80::1", false)]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("0.0.0.0/0", "::1", false)]
    public void NetworksContainAddresses(string network, string address, bool expected)
    {
        var parsed = AddressRange.TryParse(network, out var error);
        Assert.True(parsed is not null, error);
        Assert.Equal(expected, parsed.Contains(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("10.0.0.1/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0/8")]
    [InlineData("fd00::/129")]
    [InlineData("host.example")]
    [InlineData("10.0.0.0/-1")]
    public void MalformedNetworksAreRefused(string network)
    {
        Assert.Null(AddressRange.TryParse(network, out var error));
        Assert.NotNull(error);
    }

    [Fact]
    public void FirstMatchingRuleWins()
    {
        var denyFirst = Acl("""{ "rules": [ { "allow": false, "all": true, "action": "all", "topic": "a/secret" }, { "allow": true, "all": true, "action": "all", "topic": "a/#" } ] }""");
        var allowFirst = Acl("""{ "default": "deny", "rules": [ { "allow": true, "all": true, "action": "all", "topic": "a/#" }, { "allow": false, "all": true, "action": "all", "topic": "a/secret" } ] }""");
        var client = Client("c1");

        Assert.False(denyFirst.CanPublish(client, "a/secret"));
        Assert.True(denyFirst.CanPublish(client, "a/open"));
        Assert.True(allowFirst.CanPublish(client, "a/secret"));

        // A deny that overlaps a requested filter decides before a later allow that covers it.
        Assert.False(denyFirst.CanSubscribe(client, "a/#"));
        Assert.True(denyFirst.CanSubscribe(client, "a/open/#"));
        Assert.True(allowFirst.CanSubscribe(client, "a/#"));
    }

    [Fact]
    public void DefaultDecidesWhenNoRuleApplies()
    {
        const string Rules = """ "rules": [ { "allow": true, "user": "alice", "action": "publish", "topic": "x" } ] """;
        var allow = Acl("{ " + Rules + " }");
        var deny = Acl("""{ "default": "deny", """ + Rules + " }");

        Assert.True(allow.CanPublish(Client("c1", "bob"), "x"));
        Assert.False(deny.CanPublish(Client("c1", "bob"), "x"));
        Assert.True(deny.CanPublish(Client("c1", "alice"), "x"));
        Assert.False(deny.CanSubscribe(Client("c1", "alice"), "x"));
    }

    [Fact]
    public void SysIsDeniedUnlessARuleAllowsIt()
    {
        var acl = Acl("""{ "default": "allow", "rules": [ { "allow": true, "user": "admin", "action": "subscribe", "topic": "$SYS/#" }, { "allow": true, "all": true, "action": "all", "topic": "#" } ] }""");

        Assert.False(acl.CanSubscribe(Client("c1", "bob"), "$SYS/#"));
        Assert.False(acl.CanSubscribe(Client("c1", "bob"), "$SYS/broker/clients/connected"));
        Assert.False(acl.CanPublish(Client("c1", "bob"), "$SYS/broker/uptime"));
        Assert.True(acl.CanSubscribe(Client("c1", "admin"), "$SYS/#"));
        Assert.True(acl.CanSubscribe(Client("c1", "admin"), "$SYS/broker/+"));
        Assert.True(acl.CanSubscribe(Client("c1", "bob"), "#"));

        // Other '$' topics follow the default.
        Assert.True(acl.CanSubscribe(Client("c1", "bob"), "$other/x"));
    }

    [Fact]
    public void PlaceholdersLimitEachClientToItsOwnSubtree()
    {
        var acl = Acl("""
            { "default": "deny", "rules": [
                { "allow": true, "all": true, "action": "all", "topic": "users/%u/#" },
                { "allow": true, "all": true, "action": "publish", "topic": "devices/%c/state" } ] }
            """);

        Assert.True(acl.CanPublish(Client("c1", "alice"), "users/alice/x"));
        Assert.False(acl.CanPublish(Client("c1", "alice"), "users/bob/x"));
        Assert.True(acl.CanSubscribe(Client("c1", "alice"), "users/alice/#"));
        Assert.False(acl.CanSubscribe(Client("c1", "alice"), "users/+/x"));
        Assert.True(acl.CanPublish(Client("d7", null), "devices/d7/state"));
        Assert.False(acl.CanPublish(Client("d7", null), "devices/d8/state"));

        // No user name: a %u rule never applies.
        Assert.False(acl.CanPublish(Client("c1", null), "users//x"));
        Assert.False(acl.CanPublish(Client("c1", ""), "users//x"));
    }

    [Theory]
    [InlineData("+", "users/+/x")]
    [InlineData("#", "users/#")]
    [InlineData("a/b", "users/a/b/x")]
    public void PlaceholderValuesWithWildcardsOrSlashesNeverWidenAnAllow(string username, string topic)
    {
        var acl = Acl("""{ "default": "deny", "rules": [ { "allow": true, "all": true, "action": "all", "topic": "users/%u/#" } ] }""");
        var client = Client("c1", username);

        Assert.False(acl.CanPublish(client, topic.Replace("+", "x", StringComparison.Ordinal).Replace("#", "x", StringComparison.Ordinal)));
        Assert.False(acl.CanSubscribe(client, topic));
    }

    [Fact]
    public void PlaceholderValuesWithWildcardsMakeADenyApplyToEverything()
    {
        var acl = Acl("""{ "rules": [ { "allow": false, "all": true, "action": "publish", "topic": "devices/%c/config" } ] }""");

        Assert.True(acl.CanPublish(Client("d1"), "devices/d2/config"));
        Assert.False(acl.CanPublish(Client("d1"), "devices/d1/config"));
        Assert.False(acl.CanPublish(Client("a/b"), "anything"));
        Assert.True(acl.CanSubscribe(Client("a/b"), "anything"));
    }

    [Fact]
    public void ClientIdAndNetworkRulesSelectClients()
    {
        var acl = Acl("""
            { "default": "deny", "rules": [
                { "allow": true, "clientId": "dashboard", "action": "subscribe", "topic": "#" },
                { "allow": true, "ip": "10.0.0.0/8", "action": "publish", "topic": "lan/#" },
                { "allow": true, "user": "bob", "ip": "127.0.0.1/32", "action": "publish", "topic": "local/#" } ] }
            """);

        Assert.True(acl.CanSubscribe(Client("dashboard"), "#"));
        Assert.False(acl.CanSubscribe(Client("dashboard2"), "#"));
        Assert.True(acl.CanPublish(Client("c1", null, IPAddress.Parse("10.1.2.3")), "lan/x"));
        Assert.False(acl.CanPublish(Client("c1", null, Loopback), "lan/x"));
        Assert.False(acl.CanPublish(Client("c1", null, null), "lan/x"));
        Assert.True(acl.CanPublish(Client("c1", "bob", Loopback), "local/x"));
        Assert.False(acl.CanPublish(Client("c1", "bob", IPAddress.Parse("10.1.2.3")), "local/x"));
        Assert.False(acl.CanPublish(Client("c1", "alice", Loopback), "local/x"));
    }

    [Fact]
    public void PerClientRulesComeFirst()
    {
        var acl = Acl("""{ "default": "deny", "rules": [ { "allow": false, "all": true, "action": "all", "topic": "jobs/#" }, { "allow": true, "all": true, "action": "all", "topic": "#" } ] }""");
        var rules = new[]
        {
            new AccessRule(true, AccessAction.Publish, "jobs/%u/#"),
            new AccessRule(false, AccessAction.All, "public/secret"),
        };
        var withRules = new ClientIdentity("c1", "worker", Loopback, "tcp", rules);
        var without = Client("c2", "worker");

        Assert.True(acl.CanPublish(withRules, "jobs/worker/1"));
        Assert.False(acl.CanPublish(without, "jobs/worker/1"));
        Assert.False(acl.CanPublish(withRules, "jobs/other/1"));
        Assert.False(acl.CanPublish(withRules, "public/secret"));
        Assert.True(acl.CanPublish(without, "public/secret"));
        Assert.True(acl.CanPublish(withRules, "public/open"));
    }

    [Fact]
    public void MalformedPerClientRulesFailClosed()
    {
        var acl = Acl("""{ "rules": [] }""");
        var client = new ClientIdentity("c1", "u", Loopback, "tcp", [new AccessRule(true, AccessAction.All, "a/#/b"), new AccessRule(false, AccessAction.Publish, "x/#/y")]);

        Assert.False(acl.CanPublish(client, "anything"));
        Assert.True(acl.CanSubscribe(client, "anything"));
    }

    [Fact]
    public void CoveredOnlyDenyLeavesBroaderFiltersToLaterRules()
    {
        var acl = Acl("""{ "rules": [ { "allow": false, "all": true, "action": "subscribe", "topic": "test/nosubscribe", "coveredOnly": true } ] }""");
        var client = Client("c1");

        Assert.False(acl.CanSubscribe(client, "test/nosubscribe"));
        Assert.True(acl.CanSubscribe(client, "+/+"));
        Assert.True(acl.CanSubscribe(client, "#"));
    }

    [Fact]
    public void UpdateSwapsRulesAndChangesTheGeneration()
    {
        var acl = Acl("""{ "rules": [ { "allow": false, "all": true, "action": "publish", "topic": "x" } ] }""");
        var before = acl.Generation;
        Assert.False(acl.CanPublish(Client("c1"), "x"));

        acl.Update(new AclRuleSet([], defaultAllow: true));

        Assert.NotEqual(before, acl.Generation);
        Assert.True(acl.CanPublish(Client("c1"), "x"));
    }

    [Fact]
    public void ChecksDoNotAllocate()
    {
        var acl = Acl("""
            { "default": "deny", "rules": [
                { "allow": false, "ip": "10.0.0.0/8", "action": "all", "topic": "#" },
                { "allow": true, "user": "alice", "action": "all", "topic": "users/%u/dev-%c/#" },
                { "allow": true, "all": true, "action": "subscribe", "topic": "status/+" } ] }
            """);
        var client = Client("c1", "alice");
        acl.CanPublish(client, "users/alice/dev-c1/x");
        acl.CanSubscribe(client, "users/alice/dev-c1/#");

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            acl.CanPublish(client, "users/alice/dev-c1/x");
            acl.CanSubscribe(client, "status/a");
            acl.CanSubscribe(client, "users/alice/dev-c1/#");
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData("{ \"rules\": [ { \"allow\": true, \"all\": true,\n \"action\": \"publsh\", \"topic\": \"#\" } ] }", 2, "rules[0].action must be publish, subscribe or all")]
    [InlineData("{\n\"rules\": [\n{ \"allow\": true, \"all\": true, \"action\": \"all\", \"topic\": \"#\" },\n{ \"allow\": true, \"action\": \"all\", \"topic\": \"#\" } ] }", 4, "rules[1] must say whom it applies to")]
    [InlineData("{ \"rules\": [\n { \"allow\": true, \"all\": true, \"action\": \"all\",\n\n \"topic\": \"a/#/b\" } ] }", 4, "rules[0].topic 'a/#/b' is not a valid MQTT topic filter")]
    [InlineData("{ \"rules\": [ { \"allow\": \"yes\", \"all\": true, \"action\": \"all\", \"topic\": \"#\" } ] }", 1, "rules[0].allow must be true or false")]
    [InlineData("{ \"rules\": [ { \"allow\": true, \"ip\": \"10.0.0.1/8\", \"action\": \"all\", \"topic\": \"#\" } ] }", 1, "rules[0].ip has host bits set")]
    [InlineData("{ \"rules\": [ { \"allow\": true, \"usr\": \"bob\", \"action\": \"all\", \"topic\": \"#\" } ] }", 1, "rules[0].usr is not a known field")]
    [InlineData("{ \"rules\": [ { \"allow\": true, \"all\": true, \"action\": \"all\" } ] }", 1, "rules[0] needs \"topic\"")]
    [InlineData("{ \"rules\": [ { \"allow\": true, \"all\": true, \"action\": \"all\", \"topic\": \"$share/g/x\" } ] }", 1, "must not be a shared subscription")]
    [InlineData("{ \"rules\": [ { \"allow\": true, \"all\": true, \"user\": \"a\", \"action\": \"all\", \"topic\": \"#\" } ] }", 1, "rules[0].all cannot be combined")]
    [InlineData("{ \"default\": \"maybe\" }", 1, "default must be \"allow\" or \"deny\"")]
    [InlineData("{ \"rules\": [ ] ", 1, "not valid JSON")]
    [InlineData("{\n  \"rules\": [\n    { \"allow\": true \"all\": true }\n  ]\n}", 3, "not valid JSON")]
    [InlineData("[ ]", 1, "must be a JSON object")]
    [InlineData("", 1, "not valid JSON")]
    public void FileErrorsNameTheFileLineAndField(string json, int line, string expected)
    {
        var ex = Assert.Throws<TernConfigurationException>(() => AclFile.Parse(Encoding.UTF8.GetBytes(json), "/etc/tern/acl.json"));

        Assert.Equal(AclFile.ConfigKey, ex.Key);
        Assert.Contains($"/etc/tern/acl.json, line {line}:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FileAllowsCommentsTrailingCommasAByteOrderMarkAndAnyCase()
    {
        var json = "\uFEFF" + """
            // Sensors publish under their own name.
            {
              "Default": "Deny",
              "Rules": [
                { "Allow": true, "User": "alice", "Action": "Publish", "Topic": "sensors/%u/#", }, // trailing comma
              ],
            }
            """;

        var content = AclFile.Parse(Encoding.UTF8.GetBytes(json), "acl.json");

        Assert.False(content.DefaultAllow);
        var rule = Assert.Single(content.Rules);
        Assert.Equal("alice", rule.User);
        Assert.Equal(AccessAction.Publish, rule.Action);
        Assert.Equal("sensors/%u/#", rule.Topic.Filter);
    }

    private static AclTopicPattern Pattern(string filter)
    {
        var pattern = AclTopicPattern.TryParse(filter, out var error);
        Assert.True(pattern is not null, error);
        return pattern;
    }

    private static AclAuthorizer Acl(string json)
    {
        var content = AclFile.Parse(Encoding.UTF8.GetBytes(json), "acl.json");
        return new AclAuthorizer(new AclRuleSet(content.Rules, content.DefaultAllow ?? true));
    }

    private static ClientIdentity Client(string clientId, string? username = null, IPAddress? address = null)
        => new(clientId, username, address ?? Loopback, "tcp", null);
}
