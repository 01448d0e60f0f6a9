using System.Net;
using System.Text;
using Tern.Protocol;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>EMQX's built-in ACL rules API (users, clients, all), enforced on real publishes at once.</summary>
public sealed class V5AclApiTests
{
    private const string Rules = "api/v5/authorization/sources/built_in_database/rules";

    [Fact]
    public async Task A_client_rule_added_through_the_api_denies_the_publish_at_once_and_its_deletion_allows_it_again()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();
        await using var listener = await dashboard.Broker.ConnectAsync("listener", version: MqttProtocolVersion.V500);
        await listener.SubscribeAsync("plant/#", MqttQoS.AtLeastOnce);
        await using var device = await dashboard.Broker.ConnectAsync("dev-1", version: MqttProtocolVersion.V500);

        var status = (await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/clients", """[{"clientid": "dev-1", "rules": [{"topic": "plant/#", "permission": "deny", "action": "publish", "qos": [0, 1, 2], "retain": "all"}]}]""")).Status;

        Assert.Equal(HttpStatusCode.NoContent, status);
        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "plant/valve", 1));
        await listener.ExpectNoPacketAsync(TimeSpan.FromMilliseconds(200));
        var shown = await GetOkAsync(dashboard.Http, Rules + "/clients/dev-1");
        Assert.Equal("dev-1", shown.GetProperty("clientid").GetString());
        Assert.Equal("plant/#", shown.GetProperty("rules")[0].GetProperty("topic").GetString());
        Assert.Contains("dev-1", await File.ReadAllTextAsync(Path.Combine(files.Directory, "acl_rules.json")), StringComparison.Ordinal);
        var page = await GetOkAsync(dashboard.Http, Rules + "/clients");
        Assert.Equal(1, page.GetProperty("meta").GetProperty("count").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Delete, Rules + "/clients/dev-1")).Status);

        Assert.Equal(ReasonCode.Success, await PublishAsync(device, "plant/valve", 2));
        Assert.Equal("plant/valve", (await listener.ReceivePublishAsync()).Topic);
        AssertError(await GetAsync(dashboard.Http, Rules + "/clients/dev-1"), HttpStatusCode.NotFound, "NOT_FOUND", "dev-1");
    }

    [Fact]
    public async Task Rules_for_all_and_user_rules_are_replaced_with_put_and_post_and_bad_rules_name_the_field()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();
        await using var device = await dashboard.Broker.ConnectAsync("dev-2", version: MqttProtocolVersion.V500);

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/all", """{"rules": [{"topic": "secret/#", "permission": "deny", "action": "all"}]}""")).Status);

        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "secret/x", 1));
        Assert.Equal("secret/#", (await GetOkAsync(dashboard.Http, Rules + "/all")).GetProperty("rules")[0].GetProperty("topic").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Delete, Rules + "/all")).Status);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "secret/x", 2));
        Assert.Empty((await GetOkAsync(dashboard.Http, Rules + "/all")).GetProperty("rules").EnumerateArray());

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/users", """[{"username": "alice", "rules": [{"topic": "a/#", "permission": "allow", "action": "subscribe"}]}]""")).Status);
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/users", """[{"username": "alice", "rules": []}]"""), HttpStatusCode.Conflict, "ALREADY_EXISTS", "alice");
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Put, Rules + "/users/alice", """{"username": "alice", "rules": [{"topic": "b/#", "permission": "deny", "action": "publish"}]}""")).Status);
        var alice = await GetOkAsync(dashboard.Http, Rules + "/users?like_username=ali");
        Assert.Equal("b/#", alice.GetProperty("data")[0].GetProperty("rules")[0].GetProperty("topic").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Delete, Rules + "/users")).Status);
        AssertError(await GetAsync(dashboard.Http, Rules + "/users/alice"), HttpStatusCode.NotFound, "NOT_FOUND", "alice");

        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/all", """{"rules": [{"topic": "t", "permission": "maybe", "action": "publish"}]}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "permission");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/all", """{"rules": [{"topic": "t", "permission": "deny", "action": "read"}]}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "action");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/all", """{"rules": [{"topic": "a/#/b", "permission": "deny", "action": "all"}]}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "topic");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/all", """{"rules": [{"topic": "t", "permission": "deny", "action": "all", "qos": [1]}]}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "qos");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/users", """[{"rules": []}]"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "username");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Put, Rules + "/clients/nobody", """{"rules": []}"""), HttpStatusCode.NotFound, "NOT_FOUND", "nobody");
        using var anonymous = dashboard.CreateClient(null, null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(anonymous, Rules + "/all")).Status);
    }

    [Fact]
    public async Task Api_rules_are_checked_before_the_acl_file_and_stay_when_the_file_is_reloaded()
    {
        using var files = new V5ManagementBroker();
        var aclFile = Path.Combine(files.Directory, "acl.json");
        await File.WriteAllTextAsync(aclFile, """{ "default": "deny", "rules": [ { "allow": true, "all": true, "action": "all", "topic": "#" } ] }""");
        files.Settings["Acl:File"] = aclFile;
        files.Settings["Acl:ReloadIntervalSeconds"] = "0.05";
        await using var dashboard = await files.StartAsync();
        await using var device = await dashboard.Broker.ConnectAsync("dev-3", version: MqttProtocolVersion.V500);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "line/1", 1));

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Post, Rules + "/clients", """[{"clientid": "dev-3", "rules": [{"topic": "line/#", "permission": "deny", "action": "publish"}]}]""")).Status);

        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "line/1", 2));
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "other/1", 3));

        // The file now allows only other/#, with a new size: once reloaded, other/2 is refused too, and line/# is still the API's.
        await File.WriteAllTextAsync(aclFile, """{ "default": "deny", "rules": [ { "allow": true, "all": true, "action": "all", "topic": "lines/#" } ] }""");
        ushort id = 4;
        var deadline = DateTime.UtcNow + Tern.TestKit.TestTimeouts.External;
        while (await PublishAsync(device, "other/2", id++) != ReasonCode.NotAuthorized)
        {
            Assert.True(DateTime.UtcNow < deadline, "the changed ACL file was not reloaded");
            await Task.Delay(10);
        }

        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(device, "line/1", id++));
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync(device, "lines/1", id));
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
