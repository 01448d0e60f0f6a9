using System.Globalization;
using System.Net;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>EMQX's <c>/api/v5/banned</c> on the broker's bans, checked with real CONNECTs.</summary>
public sealed class V5BannedApiTests
{
    [Fact]
    public async Task Ban_by_clientid_disconnects_refuses_connect_and_delete_lifts_it()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var device = await dashboard.Broker.ConnectAsync("dev-9", version: MqttProtocolVersion.V500);

        var (status, ban) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/banned", """{"as": "clientid", "who": "dev-9", "reason": "misbehaving", "by": "ops"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("clientid", ban!.Value.GetProperty("as").GetString());
        Assert.Equal("dev-9", ban.Value.GetProperty("who").GetString());
        Assert.Equal("misbehaving", ban.Value.GetProperty("reason").GetString());
        Assert.Equal("infinity", ban.Value.GetProperty("until").GetString());
        await device.ExpectDisconnectAsync(ReasonCode.AdministrativeAction);
        await using (var again = await dashboard.Broker.OpenRawAsync())
        {
            var refused = await again.ConnectAsync("dev-9", version: MqttProtocolVersion.V500);
            Assert.Equal((byte)ReasonCode.Banned, refused.ReasonCode);
        }

        var list = await GetOkAsync(dashboard.Http, "api/v5/banned?clientid=dev-9");
        Assert.Equal("dev-9", Assert.Single(list.GetProperty("data").EnumerateArray()).GetProperty("who").GetString());

        var (deleted, _) = await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/banned/clientid/dev-9");

        Assert.Equal(HttpStatusCode.NoContent, deleted);
        await using (var back = await dashboard.Broker.ConnectAsync("dev-9", version: MqttProtocolVersion.V500))
        {
            await back.PingAsync();
        }

        AssertError(await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/banned/clientid/dev-9"), HttpStatusCode.NotFound, "NOT_FOUND", "dev-9");
    }

    [Fact]
    public async Task Bans_by_username_address_and_range_are_listed_with_their_until()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var until = DateTimeOffset.UtcNow.AddHours(2);
        var untilText = until.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

        var username = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/banned", $$"""{"as": "username", "who": "mallory", "until": "{{untilText}}"}""");
        var host = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/banned", """{"as": "peerhost", "who": "192.0.2.7"}""");
        var net = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/banned", """{"as": "peerhost_net", "who": "198.51.100.0/24", "until": 4102444800}""");

        Assert.Equal(HttpStatusCode.OK, username.Status);
        Assert.Equal(HttpStatusCode.OK, host.Status);
        Assert.Equal(HttpStatusCode.OK, net.Status);
        var listed = await GetOkAsync(dashboard.Http, "api/v5/banned");
        Assert.Equal(
            ["peerhost 192.0.2.7", "peerhost_net 198.51.100.0/24", "username mallory"],
            listed.GetProperty("data").EnumerateArray().Select(static b => b.GetProperty("as").GetString() + " " + b.GetProperty("who").GetString()).ToArray());
        Assert.Equal(3, listed.GetProperty("meta").GetProperty("count").GetInt32());
        var mallory = await GetOkAsync(dashboard.Http, "api/v5/banned?username=mallory");
        var shownUntil = DateTimeOffset.Parse(mallory.GetProperty("data")[0].GetProperty("until").GetString()!, CultureInfo.InvariantCulture);
        Assert.Equal(until.ToUnixTimeSeconds(), shownUntil.ToUnixTimeSeconds());
        Assert.Equal("2100-01-01T00:00:00.000+00:00", net.Body!.Value.GetProperty("until").GetString());
        var (removed, _) = await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/banned/peerhost_net/198.51.100.0%2F24");
        Assert.Equal(HttpStatusCode.NoContent, removed);
    }

    [Fact]
    public async Task Bans_and_a_retained_delete_made_through_the_api_survive_a_restart()
    {
        var directory = Directory.CreateTempSubdirectory("tern-v5-restart-").FullName;
        try
        {
            var settings = new Dictionary<string, string?> { ["Persistence:Mode"] = "durable", ["Persistence:Directory"] = directory };
            await using (var first = await DashboardBroker.StartAsync(settings))
            {
                Assert.Equal(HttpStatusCode.OK, (await SendAsync(first.Http, HttpMethod.Post, "api/v5/banned", """{"as": "clientid", "who": "dev-13"}""")).Status);
                Assert.Equal(HttpStatusCode.OK, (await SendAsync(first.Http, HttpMethod.Post, "api/v5/banned", """{"as": "username", "who": "eve", "reason": "leaked password"}""")).Status);
                Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(first.Http, HttpMethod.Post, "api/v5/publish", """{"topic": "cfg/a", "payload": "1", "retain": true}""")).Status);
                Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(first.Http, HttpMethod.Post, "api/v5/publish", """{"topic": "cfg/b", "payload": "2", "retain": true}""")).Status);
                Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(first.Http, HttpMethod.Delete, "api/v5/mqtt/retainer/message/cfg%2Fa")).Status);
            }

            await using var second = await DashboardBroker.StartAsync(settings);

            var bans = await GetOkAsync(second.Http, "api/v5/banned");
            Assert.Equal(
                ["clientid dev-13", "username eve"],
                bans.GetProperty("data").EnumerateArray().Select(static b => b.GetProperty("as").GetString() + " " + b.GetProperty("who").GetString()).ToArray());
            Assert.Equal("leaked password", bans.GetProperty("data")[1].GetProperty("reason").GetString());
            await using (var refused = await second.Broker.OpenRawAsync())
            {
                Assert.Equal((byte)ReasonCode.Banned, (await refused.ConnectAsync("dev-13", version: MqttProtocolVersion.V500)).ReasonCode);
            }

            AssertError(await GetAsync(second.Http, "api/v5/mqtt/retainer/message/cfg%2Fa"), HttpStatusCode.NotFound, "NOT_FOUND", "cfg/a");
            await GetOkAsync(second.Http, "api/v5/mqtt/retainer/message/cfg%2Fb");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("""{"who": "x"}""", "as")]
    [InlineData("""{"as": "hostname", "who": "x"}""", "as")]
    [InlineData("""{"as": "clientid_re", "who": "dev-.*"}""", "as")]
    [InlineData("""{"as": "clientid"}""", "who")]
    [InlineData("""{"as": "peerhost", "who": "not-an-address"}""", "who")]
    [InlineData("""{"as": "peerhost_net", "who": "10.0.0.0/99"}""", "who")]
    [InlineData("""{"as": "clientid", "who": "x", "until": "soon"}""", "until")]
    [InlineData("""{"as": "clientid", "who": "x", "until": "2001-01-01T00:00:00Z"}""", "until")]
    [InlineData("""{"as": "clientid", "who": "x", "reason": 7}""", "reason")]
    [InlineData("""{"as": "clientid", "who": "x", "colour": "red"}""", "colour")]
    public async Task Bad_ban_is_400_naming_the_field(string body, string field)
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/banned", body), HttpStatusCode.BadRequest, "BAD_REQUEST", field);
        Assert.Equal(0, (await GetOkAsync(dashboard.Http, "api/v5/banned")).GetProperty("meta").GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task Banning_twice_is_400_already_exists_and_a_bad_as_in_the_path_is_400()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        const string Ban = """{"as": "username", "who": "eve"}""";

        var (first, _) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/banned", Ban);

        Assert.Equal(HttpStatusCode.OK, first);
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/banned", Ban), HttpStatusCode.BadRequest, "ALREADY_EXISTS", "eve");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/banned/hostname/eve"), HttpStatusCode.BadRequest, "BAD_REQUEST", "as");
    }

    [Fact]
    public async Task Banning_needs_credentials()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);

        AssertError(await SendAsync(anonymous, HttpMethod.Post, "api/v5/banned", """{"as": "clientid", "who": "x"}"""), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Authentication required");
        AssertError(await SendAsync(anonymous, HttpMethod.Delete, "api/v5/banned/clientid/x"), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Authentication required");
        Assert.Equal(0, (await GetOkAsync(dashboard.Http, "api/v5/banned")).GetProperty("meta").GetProperty("count").GetInt32());
    }
}
