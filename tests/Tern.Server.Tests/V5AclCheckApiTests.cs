using System.Net;
using System.Text;
using System.Text.Json;
using Tern.Protocol;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>
/// <c>POST /api/v5/authorization/check</c>: the broker's authorizer asked as a client's PUBLISH or
/// SUBSCRIBE asks it; each answer is held against what a real client is then allowed.
/// </summary>
public sealed class V5AclCheckApiTests
{
    private const string Rules = "api/v5/authorization/sources/built_in_database/rules";
    private const string Check = "api/v5/authorization/check";

    [Fact]
    public async Task The_check_names_the_deciding_rule_and_agrees_with_a_real_publish_and_subscribe()
    {
        using var files = new V5ManagementBroker();
        files.Settings["Acl:Rules:0:Allow"] = "false";
        files.Settings["Acl:Rules:0:ClientId"] = "dev-cfg";
        files.Settings["Acl:Rules:0:Action"] = "subscribe";
        files.Settings["Acl:Rules:0:Topic"] = "plant/#";
        await using var dashboard = await files.StartAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/clients", """
            [{"clientid": "dev-1", "rules": [
              {"topic": "plant/1/status", "permission": "allow", "action": "publish"},
              {"topic": "plant/#", "permission": "deny", "action": "all"}]}]
            """)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/users", """[{"username": "alice", "rules": [{"topic": "home/${username}/#", "permission": "deny", "action": "publish"}]}]""")).Status);

        var denied = await CheckAsync(dashboard, """{"clientid": "dev-1", "topic": "plant/1/valve", "action": "publish"}""");
        Assert.Equal("deny", denied.GetProperty("result").GetString());
        Assert.Equal("built_in_database", denied.GetProperty("source").GetString());
        var rule = denied.GetProperty("rule");
        Assert.Equal("clients", rule.GetProperty("list").GetString());
        Assert.Equal("dev-1", rule.GetProperty("clientid").GetString());
        Assert.Equal(1, rule.GetProperty("index").GetInt32());
        Assert.Equal("plant/#", rule.GetProperty("topic").GetString());

        var allowed = await CheckAsync(dashboard, """{"clientid": "dev-1", "username": null, "topic": "plant/1/status", "action": "publish"}""");
        Assert.Equal("allow", allowed.GetProperty("result").GetString());
        Assert.Equal(0, allowed.GetProperty("rule").GetProperty("index").GetInt32());

        // What a real client of that id is then allowed.
        await using (var device = await dashboard.Broker.ConnectAsync("dev-1", version: MqttProtocolVersion.V500))
        {
            Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "plant/1/valve", 1));
            Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "plant/1/status", 2));
            Assert.Equal((byte)ReasonCode.NotAuthorized, (await device.SubscribeAsync("$share/g/plant/+/valve", MqttQoS.AtLeastOnce)).ReasonCodes[0]);
        }

        var shared = await CheckAsync(dashboard, """{"clientid": "dev-1", "topic": "$share/g/plant/+/valve", "action": "subscribe"}""");
        Assert.Equal("deny", shared.GetProperty("result").GetString());

        // A placeholder rule of a user name, the configuration's rules, and no rule at all.
        var home = await CheckAsync(dashboard, """{"clientid": "phone", "username": "alice", "topic": "home/alice/door", "action": "publish"}""");
        Assert.Equal("deny", home.GetProperty("result").GetString());
        Assert.Equal("alice", home.GetProperty("rule").GetProperty("username").GetString());
        Assert.Equal("home/${username}/#", home.GetProperty("rule").GetProperty("topic").GetString());
        Assert.Equal("allow", (await CheckAsync(dashboard, """{"clientid": "phone", "username": "bob", "topic": "home/alice/door", "action": "publish"}""")).GetProperty("result").GetString());

        var config = await CheckAsync(dashboard, """{"clientid": "dev-cfg", "topic": "plant/2", "action": "subscribe"}""");
        Assert.Equal("deny", config.GetProperty("result").GetString());
        Assert.Equal("config", config.GetProperty("source").GetString());
        Assert.Equal("Acl:Rules:0", config.GetProperty("rule").GetProperty("origin").GetString());

        var none = await CheckAsync(dashboard, """{"clientid": "other", "topic": "plant/2", "action": "subscribe"}""");
        Assert.Equal("allow", none.GetProperty("result").GetString());
        Assert.Equal("default", none.GetProperty("source").GetString());
        Assert.Equal(JsonValueKind.Null, none.GetProperty("rule").ValueKind);
        Assert.Equal("deny", (await CheckAsync(dashboard, """{"clientid": "other", "topic": "$SYS/broker/uptime", "action": "subscribe"}""")).GetProperty("result").GetString());
        await using (var other = await dashboard.Broker.ConnectAsync("other", version: MqttProtocolVersion.V500))
        {
            Assert.Equal((byte)ReasonCode.NotAuthorized, (await other.SubscribeAsync("$SYS/broker/uptime", MqttQoS.AtMostOnce)).ReasonCodes[0]);
        }
    }

    [Fact]
    public async Task A_reordered_rule_list_changes_the_answer_at_once()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/all", """{"rules": [{"topic": "a/#", "permission": "deny", "action": "publish"}, {"topic": "a/b", "permission": "allow", "action": "publish"}]}""")).Status);
        const string Body = """{"clientid": "c", "topic": "a/b", "action": "publish"}""";
        Assert.Equal("deny", (await CheckAsync(dashboard, Body)).GetProperty("result").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Put, Rules + "/all", """{"rules": [{"topic": "a/b", "permission": "allow", "action": "publish"}, {"topic": "a/#", "permission": "deny", "action": "publish"}]}""")).Status);

        var answer = await CheckAsync(dashboard, Body);
        Assert.Equal("allow", answer.GetProperty("result").GetString());
        Assert.Equal("all", answer.GetProperty("rule").GetProperty("list").GetString());
        Assert.Equal(0, answer.GetProperty("rule").GetProperty("index").GetInt32());
    }

    [Fact]
    public async Task A_rule_of_the_acl_file_and_the_file_default_are_named_as_such()
    {
        using var files = new V5ManagementBroker();
        var aclFile = Path.Combine(files.Directory, "acl.json");
        await File.WriteAllTextAsync(aclFile, """{ "default": "deny", "rules": [ { "allow": true, "user": "alice", "action": "publish", "topic": "sensors/%u/#" } ] }""");
        files.Settings["Acl:File"] = aclFile;
        await using var dashboard = await files.StartAsync();

        var allowed = await CheckAsync(dashboard, """{"clientid": "c", "username": "alice", "topic": "sensors/alice/t", "action": "publish"}""");
        Assert.Equal("allow", allowed.GetProperty("result").GetString());
        Assert.Equal("file", allowed.GetProperty("source").GetString());
        Assert.Equal("acl.json rules[0]", allowed.GetProperty("rule").GetProperty("origin").GetString());
        Assert.Equal("sensors/%u/#", allowed.GetProperty("rule").GetProperty("topic").GetString());
        Assert.Equal("alice", allowed.GetProperty("rule").GetProperty("username").GetString());

        var denied = await CheckAsync(dashboard, """{"clientid": "c", "username": "bob", "topic": "sensors/alice/t", "action": "publish"}""");
        Assert.Equal("deny", denied.GetProperty("result").GetString());
        Assert.Equal("default", denied.GetProperty("source").GetString());
    }

    [Fact]
    public async Task A_bad_check_is_a_400_naming_the_field()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Check, """{"topic": "t", "action": "publish"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "clientid");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Check, """{"clientid": "c", "action": "publish"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "topic");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Check, """{"clientid": "c", "topic": "t/#", "action": "publish"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "topic");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Check, """{"clientid": "c", "topic": "t/#/x", "action": "subscribe"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "topic");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Check, """{"clientid": "c", "topic": "t", "action": "read"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "action");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Check, """{"clientid": "c", "username": 7, "topic": "t", "action": "publish"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "username");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Check, """{"clientid": "c", "ipaddress": "near", "topic": "t", "action": "publish"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "ipaddress");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Check, """{"clientid": "c", "topic": "t", "action": "publish", "qos": 1}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "qos");
        using var anonymous = dashboard.CreateClient(null, null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(anonymous, HttpMethod.Post, Check, """{"clientid": "c", "topic": "t", "action": "publish"}""")).Status);
    }

    private static async Task<JsonElement> CheckAsync(DashboardBroker dashboard, string json)
    {
        var (status, body) = await SendAsync(dashboard.Http, HttpMethod.Post, Check, json);
        Assert.True(status == HttpStatusCode.OK, $"POST {Check} {json} answered {(int)status}: {body}");
        return body!.Value;
    }

    /// <summary>Publishes at QoS 1 and returns the PUBACK's reason code.</summary>
    private static async Task<ReasonCode> PublishAsync(Tern.TestKit.RawMqttClient client, string topic, ushort id)
    {
        await client.SendAsync(new PublishPacket { Topic = topic, Payload = Encoding.UTF8.GetBytes("x"), QoS = MqttQoS.AtLeastOnce, PacketId = id });
        var ack = await client.ReceiveAsync<PubAckPacket>();
        Assert.Equal(id, ack.PacketId);
        return ack.ReasonCode;
    }
}
