using System.Globalization;
using System.Net;
using MQTTnet;
using MQTTnet.Protocol;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Server.Tests.V5Tests;
using MqttNetVersion = MQTTnet.Formatter.MqttProtocolVersion;

namespace Tern.Server.Tests;

/// <summary>
/// EMQX's <c>/api/v5/clients</c>, <c>/subscriptions</c> and <c>/topics</c> against a real broker with
/// real MQTT clients: EMQX's field names, filters and paging.
/// </summary>
public sealed class V5ClientsApiTests
{
    [Fact]
    public async Task Clients_shows_an_mqtt5_client_with_emqx_field_names()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var clientId = TestIds.Client("v5list");
        using var mqtt = new MqttClientFactory().CreateMqttClient();
        await mqtt.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", dashboard.Broker.Port)
            .WithProtocolVersion(MqttNetVersion.V500)
            .WithClientId(clientId)
            .WithCredentials("alice", "secret")
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithSessionExpiryInterval(300)
            .Build());
        await mqtt.SubscribeAsync(TestIds.Topic());

        var page = await GetOkAsync(dashboard.Http, "api/v5/clients");

        var meta = page.GetProperty("meta");
        Assert.Equal(1, meta.GetProperty("page").GetInt32());
        Assert.Equal(100, meta.GetProperty("limit").GetInt32());
        Assert.Equal(1, meta.GetProperty("count").GetInt32());
        Assert.False(meta.GetProperty("hasnext").GetBoolean());
        var client = Assert.Single(page.GetProperty("data").EnumerateArray());
        Assert.Equal(clientId, client.GetProperty("clientid").GetString());
        Assert.Equal("alice", client.GetProperty("username").GetString());
        Assert.Equal("127.0.0.1", client.GetProperty("ip_address").GetString());
        Assert.InRange(client.GetProperty("port").GetInt32(), 1, 65535);
        Assert.True(client.GetProperty("connected").GetBoolean());
        Assert.Equal("MQTT", client.GetProperty("proto_name").GetString());
        Assert.Equal(5, client.GetProperty("proto_ver").GetInt32());
        Assert.Equal(30, client.GetProperty("keepalive").GetInt32());
        Assert.True(client.GetProperty("clean_start").GetBoolean());
        Assert.Equal(300, client.GetProperty("expiry_interval").GetInt64());
        Assert.Equal(1, client.GetProperty("subscriptions_cnt").GetInt32());
        Assert.Equal(0, client.GetProperty("mqueue_len").GetInt32());
        Assert.Equal(0, client.GetProperty("inflight_cnt").GetInt32());
        Assert.StartsWith("tern@", client.GetProperty("node").GetString(), StringComparison.Ordinal);
        var connectedAt = DateTimeOffset.Parse(client.GetProperty("connected_at").GetString()!, CultureInfo.InvariantCulture);
        Assert.InRange(connectedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.False(client.TryGetProperty("disconnected_at", out _), "disconnected_at is left out while connected, as EMQX does");
        Assert.True(client.TryGetProperty("send_msg.dropped", out _));
    }

    [Fact]
    public async Task Clients_filters_by_emqx_parameters_and_pages()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await dashboard.Broker.LeaveOfflineAsync("sleeper", "pumps/#");
        await using var a1 = await dashboard.Broker.ConnectAsync("dev-a1");
        await using var other = await dashboard.Broker.ConnectAsync("other", cleanSession: false);
        using var b2 = new MqttClientFactory().CreateMqttClient();
        await b2.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", dashboard.Broker.Port)
            .WithProtocolVersion(MqttNetVersion.V500)
            .WithClientId("dev-b2")
            .WithCredentials("bob", "x")
            .Build());

        async Task<string[]> Ids(string query) => ClientIds(await GetOkAsync(dashboard.Http, "api/v5/clients?" + query));

        Assert.Equal(["dev-a1"], await Ids("clientid=dev-a1"));
        Assert.Equal(["dev-a1", "other"], await Ids("clientid=dev-a1&clientid=other"));
        Assert.Equal(["dev-a1", "dev-b2"], await Ids("like_clientid=dev-"));
        Assert.Equal(["dev-b2"], await Ids("username=bob"));
        Assert.Equal(["dev-b2"], await Ids("like_username=bo"));
        Assert.Equal(["sleeper"], await Ids("conn_state=disconnected"));
        Assert.Equal(["dev-a1", "dev-b2", "other"], await Ids("conn_state=connected"));
        Assert.Empty(await Ids("conn_state=idle"));
        Assert.Equal(["dev-b2"], await Ids("proto_ver=5"));
        Assert.Equal(["dev-a1", "other"], await Ids("proto_ver=4"));
        Assert.Equal(["dev-a1", "dev-b2", "other"], await Ids("ip_address=127.0.0.1"));
        Assert.Empty(await Ids("ip_address=192.0.2.1"));
        Assert.Equal(["other"], await Ids("clean_start=false&conn_state=connected"));

        var first = await GetOkAsync(dashboard.Http, "api/v5/clients?limit=3");
        Assert.Equal(["dev-a1", "dev-b2", "other"], ClientIds(first));
        Assert.True(first.GetProperty("meta").GetProperty("hasnext").GetBoolean());
        Assert.Equal(4, first.GetProperty("meta").GetProperty("count").GetInt32());
        var second = await GetOkAsync(dashboard.Http, "api/v5/clients?limit=3&page=2");
        Assert.Equal(["sleeper"], ClientIds(second));
        Assert.False(second.GetProperty("meta").GetProperty("hasnext").GetBoolean());
        var sleeper = Assert.Single(second.GetProperty("data").EnumerateArray());
        Assert.False(sleeper.GetProperty("connected").GetBoolean());
        Assert.True(sleeper.TryGetProperty("disconnected_at", out _));
    }

    [Theory]
    [InlineData("conn_state=sleeping", "conn_state")]
    [InlineData("proto_ver=6", "proto_ver")]
    [InlineData("ip_address=nowhere", "ip_address")]
    [InlineData("clean_start=maybe", "clean_start")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=10001", "limit")]
    [InlineData("page=first", "page")]
    public async Task Clients_bad_parameter_is_400_invalid_parameter_naming_it(string query, string field)
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        AssertError(await GetAsync(dashboard.Http, "api/v5/clients?" + query), HttpStatusCode.BadRequest, "INVALID_PARAMETER", field);
    }

    [Fact]
    public async Task Client_by_id_is_found_with_a_slash_and_unknown_is_404()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var client = await dashboard.Broker.ConnectAsync("site/7", version: MqttProtocolVersion.V500);

        var one = await GetOkAsync(dashboard.Http, "api/v5/clients/site%2F7");

        Assert.Equal("site/7", one.GetProperty("clientid").GetString());
        AssertError(await GetAsync(dashboard.Http, "api/v5/clients/nobody"), HttpStatusCode.NotFound, "CLIENTID_NOT_FOUND", "nobody");
        AssertError(await GetAsync(dashboard.Http, "api/v5/clients/nobody/subscriptions"), HttpStatusCode.NotFound, "CLIENTID_NOT_FOUND", "nobody");
    }

    [Fact]
    public async Task Delete_client_kicks_it_with_0x98_then_is_404()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var client = await dashboard.Broker.ConnectAsync("kick-v5", version: MqttProtocolVersion.V500);

        var (status, _) = await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/clients/kick-v5");

        Assert.Equal(HttpStatusCode.NoContent, status);
        await client.ExpectDisconnectAsync(ReasonCode.AdministrativeAction);
        await Eventually.HoldsAsync(
            async () => (await GetAsync(dashboard.Http, "api/v5/clients/kick-v5")).Status == HttpStatusCode.NotFound,
            "the kicked client, whose session ended with it, leaves the list");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/clients/kick-v5"), HttpStatusCode.NotFound, "CLIENTID_NOT_FOUND", "kick-v5");
    }

    [Fact]
    public async Task Subscriptions_of_a_client_and_of_all_with_emqx_filters()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var mqtt = new MqttClientFactory().CreateMqttClient();
        await mqtt.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", dashboard.Broker.Port)
            .WithProtocolVersion(MqttNetVersion.V500)
            .WithClientId("sub-a")
            .Build());
        await mqtt.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic("sensors/+/temp").WithAtLeastOnceQoS().WithNoLocal(true).WithRetainAsPublished(true)
                .WithRetainHandling(MqttRetainHandling.DoNotSendOnSubscribe))
            .Build());
        await using var worker = await dashboard.Broker.ConnectAsync("sub-b");
        await worker.SubscribeGrantedAsync("$share/workers/jobs/#", MqttQoS.ExactlyOnce);
        await worker.SubscribeGrantedAsync("sensors/+/temp", MqttQoS.AtMostOnce);

        var own = await GetOkAsync(dashboard.Http, "api/v5/clients/sub-a/subscriptions");

        var subscription = Assert.Single(own.EnumerateArray());
        Assert.Equal("sub-a", subscription.GetProperty("clientid").GetString());
        Assert.Equal("sensors/+/temp", subscription.GetProperty("topic").GetString());
        Assert.Equal(1, subscription.GetProperty("qos").GetInt32());
        Assert.Equal(1, subscription.GetProperty("nl").GetInt32());
        Assert.Equal(1, subscription.GetProperty("rap").GetInt32());
        Assert.Equal(2, subscription.GetProperty("rh").GetInt32());

        async Task<string[]> Topics(string query)
            => [.. (await GetOkAsync(dashboard.Http, "api/v5/subscriptions?" + query)).GetProperty("data").EnumerateArray()
                .Select(static s => s.GetProperty("clientid").GetString() + " " + s.GetProperty("topic").GetString())];

        Assert.Equal(["sub-a sensors/+/temp", "sub-b $share/workers/jobs/#", "sub-b sensors/+/temp"], await Topics(""));
        Assert.Equal(["sub-b $share/workers/jobs/#", "sub-b sensors/+/temp"], await Topics("clientid=sub-b"));
        Assert.Equal(["sub-a sensors/+/temp", "sub-b sensors/+/temp"], await Topics("topic=sensors/%2B/temp"));
        Assert.Equal(["sub-b $share/workers/jobs/#"], await Topics("qos=2"));
        Assert.Equal(["sub-b $share/workers/jobs/#"], await Topics("share_group=workers"));
        Assert.Equal(["sub-b $share/workers/jobs/#"], await Topics("match_topic=jobs/7"));
        Assert.Equal(["sub-a sensors/+/temp", "sub-b sensors/+/temp"], await Topics("match_topic=sensors/hall/temp"));
        Assert.Equal(["sub-a sensors/+/temp"], await Topics("limit=1"));
        AssertError(await GetAsync(dashboard.Http, "api/v5/subscriptions?qos=3"), HttpStatusCode.BadRequest, "BAD_REQUEST", "qos");
        AssertError(await GetAsync(dashboard.Http, "api/v5/subscriptions?match_topic=a/%23"), HttpStatusCode.BadRequest, "BAD_REQUEST", "match_topic");
    }

    [Fact]
    public async Task Topics_lists_each_subscribed_filter_once()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var a = await dashboard.Broker.ConnectAsync("topics-a");
        await a.SubscribeGrantedAsync("sensors/#", MqttQoS.AtMostOnce);
        await using var b = await dashboard.Broker.ConnectAsync("topics-b");
        await b.SubscribeGrantedAsync("sensors/#", MqttQoS.AtLeastOnce);
        await b.SubscribeGrantedAsync("$share/g/jobs", MqttQoS.AtLeastOnce);

        var page = await GetOkAsync(dashboard.Http, "api/v5/topics");

        Assert.Equal(
            ["jobs", "sensors/#"],
            page.GetProperty("data").EnumerateArray().Select(static t => t.GetProperty("topic").GetString()!).ToArray());
        Assert.Equal(2, page.GetProperty("meta").GetProperty("count").GetInt32());
        var one = await GetOkAsync(dashboard.Http, "api/v5/topics?topic=sensors/%23");
        var route = Assert.Single(one.GetProperty("data").EnumerateArray());
        Assert.StartsWith("tern@", route.GetProperty("node").GetString(), StringComparison.Ordinal);
        AssertError(await GetAsync(dashboard.Http, "api/v5/topics?limit=-1"), HttpStatusCode.BadRequest, "BAD_REQUEST", "limit");
    }

    [Theory]
    [InlineData("api/v5/clients")]
    [InlineData("api/v5/clients/any")]
    [InlineData("api/v5/subscriptions")]
    [InlineData("api/v5/topics")]
    [InlineData("api/v5/mqtt/retainer/messages")]
    [InlineData("api/v5/banned")]
    public async Task Every_v5_read_needs_credentials(string path)
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);
        using var wrong = dashboard.CreateClient("admin", "wrong");

        AssertError(await GetAsync(anonymous, path), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Authentication required");
        AssertError(await GetAsync(wrong, path), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Authentication required");
    }

    [Fact]
    public async Task Unknown_v5_path_is_404_not_found()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        AssertError(await GetAsync(dashboard.Http, "api/v5/no-such-thing"), HttpStatusCode.NotFound, "NOT_FOUND", "docs/rest-api.md");
    }
}
