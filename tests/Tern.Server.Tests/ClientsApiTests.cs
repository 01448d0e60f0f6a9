using System.Net;
using System.Text.Json;
using MQTTnet;
using Tern.Protocol;
using Tern.TestKit;
using MqttNetVersion = MQTTnet.Formatter.MqttProtocolVersion;

namespace Tern.Server.Tests;

/// <summary>
/// <c>/api/v5/stats</c>, <c>/metrics</c>, <c>/nodes</c> and <c>/clients</c> against a real broker with
/// real MQTT clients: what the dashboard's overview and client table show.
/// </summary>
public sealed class ClientsApiTests
{
    private static readonly Dictionary<string, string?> NoSys = new() { ["Broker:SysIntervalSeconds"] = "0" };

    [Fact]
    public async Task Stats_count_a_connected_client_its_subscription_and_its_messages()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys);
        var before = await dashboard.GetJsonAsync("api/v5/stats?aggregate=true");
        Assert.Equal(0, before.GetProperty("connections.count").GetInt32());

        await using var client = await dashboard.Broker.ConnectAsync(TestIds.Client("stats"));
        var topic = TestIds.Topic();
        await client.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        await client.PublishAsync(topic, "21.5", MqttQoS.AtMostOnce, retain: true);
        await client.ReceivePublishAsync();

        var stats = await dashboard.GetJsonAsync("api/v5/stats?aggregate=true");
        var metrics = await dashboard.GetJsonAsync("api/v5/metrics?aggregate=true");
        var node = (await dashboard.GetJsonAsync("api/v5/nodes"))[0];
        Assert.Equal(1, stats.GetProperty("connections.count").GetInt32());
        Assert.Equal(1, stats.GetProperty("sessions.count").GetInt32());
        Assert.Equal(1, stats.GetProperty("subscriptions.count").GetInt32());
        Assert.Equal(1, stats.GetProperty("retained.count").GetInt32());
        Assert.Equal(1, metrics.GetProperty("messages.received").GetInt64());
        Assert.Equal(1, metrics.GetProperty("client.connect").GetInt64());
        Assert.Equal(0, metrics.GetProperty("client.closed.internal_error").GetInt64());
        Assert.Equal(0, metrics.GetProperty("client.closed.slow_consumer").GetInt64());
        Assert.Equal(TernServer.Version, node.GetProperty("version").GetString());
        Assert.True(node.GetProperty("uptime").GetInt64() >= 0);
        Assert.True(metrics.GetProperty("bytes.received").GetInt64() > 0);

        // The writer counts a message once it is written, which may be just after the client read it.
        await Eventually.HoldsAsync(
            async () => (await dashboard.GetJsonAsync("api/v5/metrics?aggregate=true")).GetProperty("messages.sent").GetInt64() == 1,
            "metrics count the message sent to the subscriber");
    }

    [Fact]
    public async Task Clients_lists_a_connected_mqtt5_client_with_its_details()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var clientId = TestIds.Client("list");
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
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

        var page = await dashboard.GetJsonAsync("api/v5/clients");
        var client = Assert.Single(page.GetProperty("data").EnumerateArray());
        Assert.Equal(clientId, client.GetProperty("clientid").GetString());
        Assert.True(client.GetProperty("connected").GetBoolean());
        Assert.False(client.TryGetProperty("disconnected_at", out _));
        Assert.Equal("alice", client.GetProperty("username").GetString());
        Assert.Equal(5, client.GetProperty("proto_ver").GetInt32());
        Assert.Equal(30, client.GetProperty("keepalive").GetInt32());
        Assert.Equal("127.0.0.1", client.GetProperty("ip_address").GetString());
        Assert.InRange(client.GetProperty("connected_at").GetDateTimeOffset(), started, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(1, client.GetProperty("subscriptions_cnt").GetInt32());
        Assert.Equal(300, client.GetProperty("expiry_interval").GetInt64());
        Assert.Equal(0, client.GetProperty("held_acknowledgements").GetInt32());
        Assert.Equal(0, client.GetProperty("slowed_publishers").GetInt32());
        Assert.Empty(client.GetProperty("dropped_by_reason").EnumerateObject());
        Assert.Equal(1, page.GetProperty("meta").GetProperty("count").GetInt32());

        var one = await dashboard.GetJsonAsync($"api/v5/clients/{clientId}");
        Assert.Equal(clientId, one.GetProperty("clientid").GetString());
        Assert.Equal("alice", one.GetProperty("username").GetString());
    }

    [Fact]
    public async Task Clients_are_paged_in_client_id_order()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var c = await dashboard.Broker.ConnectAsync("page-c");
        await using var a = await dashboard.Broker.ConnectAsync("page-a", version: MqttProtocolVersion.V310);
        await using var b = await dashboard.Broker.ConnectAsync("page-b", keepAlive: 60);

        var first = await dashboard.GetJsonAsync("api/v5/clients?page=1&limit=2");
        var second = await dashboard.GetJsonAsync("api/v5/clients?page=2&limit=2");
        var beyond = await dashboard.GetJsonAsync("api/v5/clients?page=3&limit=2");

        Assert.Equal(["page-a", "page-b"], Ids(first));
        Assert.Equal(["page-c"], Ids(second));
        Assert.Empty(Ids(beyond));
        Assert.Equal(3, second.GetProperty("meta").GetProperty("count").GetInt32());
        Assert.Equal(2, second.GetProperty("meta").GetProperty("page").GetInt32());
        Assert.Equal(3, first.GetProperty("data")[0].GetProperty("proto_ver").GetInt32());
        Assert.Equal(4, first.GetProperty("data")[1].GetProperty("proto_ver").GetInt32());
        Assert.Equal(60, first.GetProperty("data")[1].GetProperty("keepalive").GetInt32());

        // 3.1.1 clean session: the session ends with the connection.
        Assert.Equal(0, first.GetProperty("data")[1].GetProperty("expiry_interval").GetInt64());
    }

    [Fact]
    public async Task A_client_id_with_a_slash_and_spaces_is_addressable()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        const string ClientId = "plant 7/line%2F3";
        await using var client = await dashboard.Broker.ConnectAsync(ClientId, version: MqttProtocolVersion.V500);

        var found = await dashboard.GetJsonAsync("api/v5/clients/" + Uri.EscapeDataString(ClientId));
        Assert.Equal(ClientId, found.GetProperty("clientid").GetString());

        using var kicked = await dashboard.Http.DeleteAsync("api/v5/clients/" + Uri.EscapeDataString(ClientId));
        Assert.Equal(HttpStatusCode.NoContent, kicked.StatusCode);
        await client.ExpectDisconnectAsync(ReasonCode.AdministrativeAction);
    }

    [Fact]
    public async Task Unknown_client_is_404_with_a_message()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        using var get = await dashboard.Http.GetAsync("api/v5/clients/nobody");
        using var delete = await dashboard.Http.DeleteAsync("api/v5/clients/nobody");

        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
        Assert.Contains("no client with id 'nobody' is connected", await get.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("api/v5/clients?limit=0", "limit", "limit must be a whole number from 1 to 10000")]
    [InlineData("api/v5/clients?limit=10001", "limit", "limit must be a whole number from 1 to 10000")]
    [InlineData("api/v5/clients?page=0", "page", "page must be a whole number")]
    [InlineData("api/v5/subscriptions?page=x", "page", "page must be a whole number")]
    [InlineData("api/v5/mqtt/retainer/messages?topic=a/%23/b", "topic", "topic must be a topic name or filter")]
    public async Task Bad_query_is_400_naming_the_parameter(string path, string field, string message)
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        using var response = await dashboard.Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Contains(message, problem.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private static string[] Ids(JsonElement page)
        => page.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("clientid").GetString()!).ToArray();
}
