using System.Net;
using System.Text.Json;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary><c>/api/v1/subscriptions</c>, <c>/api/v1/publish</c> and <c>/api/v1/retained</c>.</summary>
public sealed class PublishApiTests
{
    [Fact]
    public async Task Subscriptions_lists_each_filter_with_its_qos_and_client()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var sensor = await dashboard.Broker.ConnectAsync("sub-sensor");
        await sensor.SubscribeAsync(("sensors/+/temp", MqttQoS.AtLeastOnce), ("$share/workers/jobs/#", MqttQoS.ExactlyOnce));
        await using var other = await dashboard.Broker.ConnectAsync("sub-other");
        await other.SubscribeAsync("alerts", MqttQoS.AtMostOnce);

        var all = await dashboard.GetJsonAsync("api/v1/subscriptions");
        var mine = await dashboard.GetJsonAsync("api/v1/subscriptions?clientId=sub-sensor");

        Assert.Equal(3, all.GetProperty("meta").GetProperty("count").GetInt32());
        var rows = mine.GetProperty("data").EnumerateArray()
            .Select(s => (Client: s.GetProperty("clientId").GetString(), Filter: s.GetProperty("filter").GetString(), Qos: s.GetProperty("qos").GetInt32(), Online: s.GetProperty("online").GetBoolean()))
            .ToArray();
        Assert.Equal([("sub-sensor", "$share/workers/jobs/#", 2, true), ("sub-sensor", "sensors/+/temp", 1, true)], rows);
    }

    [Fact]
    public async Task Subscriptions_show_every_option_the_shared_group_and_the_subscription_identifier()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var v5 = await dashboard.Broker.ConnectV5Async("opt-v5");
        await v5.SubscribeV5GrantedAsync("plant/+/alarm", MqttQoS.AtLeastOnce, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionId: 42);
        await v5.SubscribeV5GrantedAsync("$share/workers/jobs/#", MqttQoS.ExactlyOnce, retainHandling: 1);
        await using var v3 = await dashboard.Broker.ConnectAsync("opt-v3");
        await v3.SubscribeAsync("plain", MqttQoS.AtMostOnce);

        var rows = (await dashboard.GetJsonAsync("api/v1/subscriptions")).GetProperty("data").EnumerateArray()
            .ToDictionary(s => s.GetProperty("filter").GetString()!, Options);

        Assert.Equal((1, true, true, 2, null, 42L), rows["plant/+/alarm"]);
        Assert.Equal((2, false, false, 1, "workers", null), rows["$share/workers/jobs/#"]);
        Assert.Equal((0, false, false, 0, null, null), rows["plain"]);
    }

    [Fact]
    public async Task Stats_count_the_retained_messages_the_list_shows_leaving_out_sys_topics()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Broker:SysIntervalSeconds"] = "0.1" });
        await using var client = await dashboard.Broker.ConnectAsync(TestIds.Client("ret"));
        await client.PublishAsync("plant/1/config", "a", MqttQoS.AtLeastOnce, retain: true);
        await client.PublishAsync("plant/2/config", "b", MqttQoS.AtLeastOnce, retain: true);

        // The broker retains its $SYS topics too: listed when asked for, not counted with the others.
        await Eventually.HoldsAsync(
            async () => (await dashboard.GetJsonAsync("api/v1/retained?topic=%24SYS/%23")).GetProperty("meta").GetProperty("count").GetInt32() > 0,
            "the broker retains its $SYS topics");
        var stats = await dashboard.GetJsonAsync("api/v1/stats");
        var listed = await dashboard.GetJsonAsync("api/v1/retained");

        Assert.Equal(2, stats.GetProperty("retained").GetInt32());
        Assert.Equal(2, listed.GetProperty("meta").GetProperty("count").GetInt32());
        Assert.Equal(["plant/1/config", "plant/2/config"], listed.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("topic").GetString()));
        Assert.True(dashboard.Broker.Server.Broker.RetainedCount > 2, "the store holds the $SYS topics besides the two");
    }

    [Fact]
    public async Task Publish_reaches_a_subscriber()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var device = await dashboard.Broker.ConnectAsync(TestIds.Client("led"));
        await device.SubscribeAsync(topic, MqttQoS.AtLeastOnce);

        using var response = await dashboard.PublishAsync(new { topic, payload = "on", qos = 1 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(answer.GetProperty("matched").GetBoolean());
        Assert.Equal(topic, answer.GetProperty("topic").GetString());
        var message = await device.ReceivePublishAsync();
        Assert.Equal(topic, message.Topic);
        Assert.Equal("on", message.PayloadText());
        Assert.Equal(MqttQoS.AtLeastOnce, message.QoS);
        Assert.False(message.Retain);
    }

    [Fact]
    public async Task Publish_without_a_subscriber_says_nothing_matched()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        using var response = await dashboard.PublishAsync("""{ "topic": "nobody/listens", "payload": "x" }""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("matched").GetBoolean());
    }

    [Fact]
    public async Task Retained_base64_publish_is_stored_listed_and_handed_to_a_new_subscriber()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var topic = TestIds.Topic();
        byte[] binary = [0x00, 0xFF, 0x10, 0x80];

        using var response = await dashboard.PublishAsync(new { topic, payload = Convert.ToBase64String(binary), encoding = "base64", retain = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var retained = await dashboard.GetJsonAsync("api/v1/retained?topic=" + Uri.EscapeDataString(topic));
        var stored = Assert.Single(retained.GetProperty("data").EnumerateArray());
        Assert.Equal(topic, stored.GetProperty("topic").GetString());
        Assert.Equal(4, stored.GetProperty("size").GetInt32());
        Assert.Equal("base64", stored.GetProperty("encoding").GetString());
        Assert.Equal(binary, Convert.FromBase64String(stored.GetProperty("payload").GetString()!));

        await using var late = await dashboard.Broker.ConnectAsync(TestIds.Client("late"));
        await late.SubscribeAsync(topic, MqttQoS.AtMostOnce);
        var message = await late.ReceivePublishAsync();
        Assert.True(message.Retain);
        Assert.Equal(binary, message.Payload.ToArray());
    }

    [Theory]
    [InlineData("""{ "topic": "sensors/#", "payload": "x" }""", "has a wildcard")]
    [InlineData("""{ "topic": "a/+/b" }""", "has a wildcard")]
    [InlineData("""{ "topic": "", "payload": "x" }""", "topic is required")]
    [InlineData("""{ "payload": "x" }""", "topic is required")]
    [InlineData("""{ "topic": "a\u0000b" }""", "not a valid topic name")]
    [InlineData("""{ "topic": "a", "qos": 3 }""", "qos must be 0, 1 or 2, not 3")]
    [InlineData("""{ "topic": "a", "qos": "1" }""", "qos must be 0, 1 or 2")]
    [InlineData("""{ "topic": "a", "retain": "yes" }""", "retain must be true or false")]
    [InlineData("""{ "topic": "a", "payload": 5 }""", "payload must be a string")]
    [InlineData("""{ "topic": "a", "payload": "***", "encoding": "base64" }""", "payload is not valid base64")]
    [InlineData("""{ "topic": "a", "encoding": "hex" }""", "encoding must be")]
    [InlineData("""{ "topic": "a", "payload_encoding": "base64" }""", "Unknown field 'payload_encoding'")]
    [InlineData("""["a"]""", "must be a JSON object")]
    [InlineData("""{ "topic": """, "not valid JSON")]
    public async Task Bad_publish_is_400_with_a_clear_error(string body, string message)
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        using var response = await dashboard.PublishAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publish_beyond_the_broker_limits_is_400_naming_the_setting()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:MaxPacketSize"] = "1024",
            ["Broker:MaximumQoS"] = "1",
            ["Broker:MaxTopicLevels"] = "3",
        });

        using var big = await dashboard.PublishAsync(new { topic = "a", payload = new string('x', 2000) });
        using var qos2 = await dashboard.PublishAsync(new { topic = "a", qos = 2 });
        using var deep = await dashboard.PublishAsync(new { topic = "a/b/c/d" });

        Assert.Contains("Broker:MaxPacketSize", await ErrorOf(big), StringComparison.Ordinal);
        Assert.Contains("Broker:MaximumQoS", await ErrorOf(qos2), StringComparison.Ordinal);
        Assert.Contains("Broker:MaxTopicLevels", await ErrorOf(deep), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_beyond_the_limit_is_413()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Broker:MaxPacketSize"] = "1024" });

        // The body limit is 4 x Broker:MaxPacketSize, but at least 1 MiB.
        using var response = await dashboard.PublishAsync(new { topic = "a", payload = new string('x', (1 << 20) + 1) });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("larger than 1048576 bytes", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publish_needs_a_json_content_type()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        using var response = await dashboard.Http.PostAsync("api/v1/publish", new StringContent("""{ "topic": "a" }""", System.Text.Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    private static (int Qos, bool NoLocal, bool RetainAsPublished, int RetainHandling, string? ShareGroup, long? SubscriptionIdentifier) Options(JsonElement s)
    {
        var id = s.GetProperty("subscriptionIdentifier");
        return (
            s.GetProperty("qos").GetInt32(),
            s.GetProperty("noLocal").GetBoolean(),
            s.GetProperty("retainAsPublished").GetBoolean(),
            s.GetProperty("retainHandling").GetInt32(),
            s.GetProperty("shareGroup").GetString(),
            id.ValueKind == JsonValueKind.Null ? null : id.GetInt64());
    }

    private static async Task<string> ErrorOf(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
    }
}
