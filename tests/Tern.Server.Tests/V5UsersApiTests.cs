using System.Net;
using System.Text;
using Tern.Protocol;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>EMQX's built-in users API on the users file: checked with real CONNECTs and <c>mosquitto_pub</c>.</summary>
public sealed class V5UsersApiTests
{
    private const string Users = "api/v5/authentication/password_based:built_in_database/users";

    [Fact]
    public async Task A_user_added_through_the_api_connects_with_mosquitto_pub_at_once_and_a_new_password_replaces_the_old()
    {
        using var files = new V5ManagementBroker(allowAnonymous: false);
        await using var dashboard = await files.StartAsync();
        var refused = await V5ManagementBroker.MosquittoPubAsync(dashboard.Broker, "-u", "sensor-1", "-P", "s3cret", "-t", "t/1", "-m", "x");
        Assert.NotEqual(0, refused.Exit);

        var (status, body) = await SendAsync(dashboard.Http, HttpMethod.Post, Users, """{"user_id": "sensor-1", "password": "s3cret"}""");

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("sensor-1", body!.Value.GetProperty("user_id").GetString());
        Assert.False(body.Value.GetProperty("is_superuser").GetBoolean());
        var published = await V5ManagementBroker.MosquittoPubAsync(dashboard.Broker, "-u", "sensor-1", "-P", "s3cret", "-t", "t/1", "-m", "x");
        Assert.True(published.Exit == 0, published.Output);
        Assert.Contains("\"sensor-1\"", await File.ReadAllTextAsync(files.UsersFile), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(dashboard.Http, HttpMethod.Put, Users + "/sensor-1", """{"password": "n3w"}""")).Status);
        Assert.Equal((byte)ReasonCode.BadUserNameOrPassword, await ConnectAsync(dashboard, "sensor-1", "s3cret"));
        Assert.Equal((byte)ReasonCode.Success, await ConnectAsync(dashboard, "sensor-1", "n3w"));

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(dashboard.Http, HttpMethod.Delete, Users + "/sensor-1")).Status);
        Assert.Equal((byte)ReasonCode.BadUserNameOrPassword, await ConnectAsync(dashboard, "sensor-1", "n3w"));
        AssertError(await GetAsync(dashboard.Http, Users + "/sensor-1"), HttpStatusCode.NotFound, "NOT_FOUND", "sensor-1");
    }

    [Fact]
    public async Task Users_are_listed_by_page_and_bad_requests_name_the_field()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();
        foreach (var name in new[] { "carol", "alice", "bob" })
        {
            Assert.Equal(HttpStatusCode.Created, (await SendAsync(dashboard.Http, HttpMethod.Post, Users, $$"""{"user_id": "{{name}}", "password": "pw"}""")).Status);
        }

        var page = await GetOkAsync(dashboard.Http, Users + "?page=1&limit=2");

        Assert.Equal(["alice", "bob"], page.GetProperty("data").EnumerateArray().Select(static u => u.GetProperty("user_id").GetString()!).ToArray());
        Assert.Equal(3, page.GetProperty("meta").GetProperty("count").GetInt32());
        Assert.True(page.GetProperty("meta").GetProperty("hasnext").GetBoolean());
        Assert.Equal("bob", (await GetOkAsync(dashboard.Http, Users + "/bob")).GetProperty("user_id").GetString());
        Assert.Single((await GetOkAsync(dashboard.Http, Users + "?like_user_id=aro")).GetProperty("data").EnumerateArray());
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Users, """{"user_id": "alice", "password": "pw"}"""), HttpStatusCode.Conflict, "ALREADY_EXISTS", "alice");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Users, """{"user_id": "dave"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "password");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Users, """{"password": "pw"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "user_id");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, Users, """{"user_id": "dave", "password": "pw", "is_superuser": true}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "is_superuser");
        AssertError(await GetAsync(dashboard.Http, Users + "?limit=0"), HttpStatusCode.BadRequest, "BAD_REQUEST", "limit");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Put, Users + "/zed", """{"password": "pw"}"""), HttpStatusCode.NotFound, "NOT_FOUND", "zed");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Delete, Users + "/zed"), HttpStatusCode.NotFound, "NOT_FOUND", "zed");
        using var anonymous = dashboard.CreateClient(null, null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(anonymous, Users)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(anonymous, HttpMethod.Post, Users, """{"user_id": "eve", "password": "pw"}""")).Status);
    }

    [Fact]
    public async Task A_user_an_acl_rule_and_a_key_added_through_the_api_survive_a_restart_of_a_durable_broker()
    {
        using var files = new V5ManagementBroker(durable: true, allowAnonymous: false);
        string key, secret;
        await using (var first = await files.StartAsync())
        {
            Assert.Equal(HttpStatusCode.Created, (await SendAsync(first.Http, HttpMethod.Post, Users, """{"user_id": "plc-7", "password": "pw7"}""")).Status);
            Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(first.Http, HttpMethod.Post, "api/v5/authorization/sources/built_in_database/rules/users", """[{"username": "plc-7", "rules": [{"topic": "plant/#", "permission": "deny", "action": "publish"}]}]""")).Status);
            var (_, created) = await SendAsync(first.Http, HttpMethod.Post, "api/v5/api_key", """{"name": "ops"}""");
            key = created!.Value.GetProperty("api_key").GetString()!;
            secret = created.Value.GetProperty("api_secret").GetString()!;
        }

        await using var second = await files.StartAsync();

        var denied = await V5ManagementBroker.MosquittoPubAsync(second.Broker, "-V", "5", "-q", "1", "-u", "plc-7", "-P", "pw7", "-t", "plant/valve", "-m", "open", "-d");
        Assert.Contains("PUBACK", denied.Output, StringComparison.Ordinal);
        Assert.Contains("135", denied.Output, StringComparison.Ordinal);
        var allowed = await V5ManagementBroker.MosquittoPubAsync(second.Broker, "-V", "5", "-q", "1", "-u", "plc-7", "-P", "pw7", "-t", "office/lamp", "-m", "on", "-d");
        Assert.True(allowed.Exit == 0, allowed.Output);
        Assert.DoesNotContain("135", allowed.Output, StringComparison.Ordinal);
        using var script = second.CreateClient(key, secret);
        var rules = await GetOkAsync(script, "api/v5/authorization/sources/built_in_database/rules/users/plc-7");
        Assert.Equal("deny", rules.GetProperty("rules")[0].GetProperty("permission").GetString());
    }

    [Fact]
    public async Task A_users_file_broken_by_hand_is_a_500_naming_it_and_nothing_is_written()
    {
        using var files = new V5ManagementBroker();
        await using var dashboard = await files.StartAsync();
        await File.WriteAllTextAsync(files.UsersFile, "{ \"users\": [ { \"username\": \"x\" } ] }");

        var listed = await GetAsync(dashboard.Http, Users);
        var added = await SendAsync(dashboard.Http, HttpMethod.Post, Users, """{"user_id": "y", "password": "pw"}""");

        AssertError(listed, HttpStatusCode.InternalServerError, "INTERNAL_ERROR", files.UsersFile);
        AssertError(added, HttpStatusCode.InternalServerError, "INTERNAL_ERROR", files.UsersFile);
        Assert.DoesNotContain("\"y\"", await File.ReadAllTextAsync(files.UsersFile), StringComparison.Ordinal);
    }

    /// <summary>The CONNACK reason code of an MQTT 5 CONNECT with this user name and password.</summary>
    private static async Task<byte> ConnectAsync(DashboardBroker dashboard, string username, string password)
    {
        await using var client = await dashboard.Broker.OpenRawAsync();
        var connAck = await client.ConnectAsync("c-" + username, version: MqttProtocolVersion.V500, username: username, password: Encoding.UTF8.GetBytes(password));
        return connAck.ReasonCode;
    }
}
