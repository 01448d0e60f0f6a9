using System.Net;
using System.Text.Json;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>
/// <c>/api/v5/subscriptions</c> with Tern's members, <c>/api/v5/publish</c> against the broker's
/// limits, and <c>/api/v5/mqtt/retainer/messages</c> with its previews.
/// </summary>
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

        var all = await dashboard.GetJsonAsync("api/v5/subscriptions");
        var mine = await dashboard.GetJsonAsync("api/v5/subscriptions?clientid=sub-sensor");

        Assert.Equal(3, all.GetProperty("meta").GetProperty("count").GetInt32());
        var rows = mine.GetProperty("data").EnumerateArray()
            .Select(s => (Client: s.GetProperty("clientid").GetString(), Filter: s.GetProperty("topic").GetString(), Qos: s.GetProperty("qos").GetInt32(), Online: s.GetProperty("online").GetBoolean()))
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

        var rows = (await dashboard.GetJsonAsync("api/v5/subscriptions")).GetProperty("data").EnumerateArray()
            .ToDictionary(s => s.GetProperty("topic").GetString()!, Options);

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
            async () => (await dashboard.GetJsonAsync("api/v5/mqtt/retainer/messages?topic=%24SYS/%23")).GetProperty("meta").GetProperty("count").GetInt32() > 0,
            "the broker retains its $SYS topics");
        var stats = await dashboard.GetJsonAsync("api/v5/stats?aggregate=true");
        var listed = await dashboard.GetJsonAsync("api/v5/mqtt/retainer/messages");

        Assert.Equal(2, stats.GetProperty("retained.count").GetInt32());
        Assert.Equal(2, listed.GetProperty("meta").GetProperty("count").GetInt32());
        Assert.Equal(["plant/1/config", "plant/2/config"], listed.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("topic").GetString()));
        Assert.True(dashboard.Broker.Server.Broker.RetainedCount > 2, "the store holds the $SYS topics besides the two");
    }

    [Fact]
    public async Task Retained_base64_publish_is_stored_listed_and_handed_to_a_new_subscriber()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var topic = TestIds.Topic();
        byte[] binary = [0x00, 0xFF, 0x10, 0x80];

        using var response = await dashboard.PublishAsync(new { topic, payload = Convert.ToBase64String(binary), payload_encoding = "base64", retain = true });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        var retained = await dashboard.GetJsonAsync("api/v5/mqtt/retainer/messages?topic=" + Uri.EscapeDataString(topic));
        var stored = Assert.Single(retained.GetProperty("data").EnumerateArray());
        Assert.Equal(topic, stored.GetProperty("topic").GetString());
        Assert.Equal(4, stored.GetProperty("payload_size").GetInt32());
        var preview = stored.GetProperty("preview");
        Assert.Equal("base64", preview.GetProperty("encoding").GetString());
        Assert.False(preview.GetProperty("truncated").GetBoolean());
        Assert.Equal(binary, Convert.FromBase64String(preview.GetProperty("text").GetString()!));

        await using var late = await dashboard.Broker.ConnectAsync(TestIds.Client("late"));
        await late.SubscribeAsync(topic, MqttQoS.AtMostOnce);
        var message = await late.ReceivePublishAsync();
        Assert.True(message.Retain);
        Assert.Equal(binary, message.Payload.ToArray());
    }

    [Fact]
    public async Task A_long_text_payload_is_previewed_by_its_first_kib_cut_on_a_character()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var topic = TestIds.Topic();

        // 1023 ASCII bytes then a two-byte character across the 1024-byte mark.
        using var response = await dashboard.PublishAsync(new { topic, payload = new string('a', 1023) + "é" + new string('b', 100), retain = true });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        var stored = Assert.Single((await dashboard.GetJsonAsync("api/v5/mqtt/retainer/messages?topic=" + Uri.EscapeDataString(topic))).GetProperty("data").EnumerateArray());
        var preview = stored.GetProperty("preview");
        Assert.Equal(1125, stored.GetProperty("payload_size").GetInt32());
        Assert.Equal("plain", preview.GetProperty("encoding").GetString());
        Assert.True(preview.GetProperty("truncated").GetBoolean());
        Assert.Equal(new string('a', 1023), preview.GetProperty("text").GetString());
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
        using var qos2 = await dashboard.PublishAsync(new { topic = "a", qos = 2, payload = "x" });
        using var deep = await dashboard.PublishAsync(new { topic = "a/b/c/d", payload = "x" });

        Assert.Equal(("payload", 149), await ErrorOf(big, "Broker:MaxPacketSize"));
        Assert.Equal(("qos", 155), await ErrorOf(qos2, "Broker:MaximumQoS"));
        Assert.Equal(("topic", 144), await ErrorOf(deep, "Broker:MaxTopicLevels"));
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

        using var response = await dashboard.Http.PostAsync("api/v5/publish", new StringContent("""{ "topic": "a", "payload": "x" }""", System.Text.Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    private static (int Qos, bool NoLocal, bool RetainAsPublished, int RetainHandling, string? ShareGroup, long? SubscriptionIdentifier) Options(JsonElement s)
    {
        // Tern leaves out share_group and subscription_identifier when there is none.
        return (
            s.GetProperty("qos").GetInt32(),
            s.GetProperty("nl").GetInt32() == 1,
            s.GetProperty("rap").GetInt32() == 1,
            s.GetProperty("rh").GetInt32(),
            s.TryGetProperty("share_group", out var group) ? group.GetString() : null,
            s.TryGetProperty("subscription_identifier", out var id) ? id.GetInt64() : null);
    }

    /// <summary>The refused field and MQTT reason code of a 400 whose message names <paramref name="setting"/>.</summary>
    private static async Task<(string Field, int ReasonCode)> ErrorOf(HttpResponseMessage response, string setting)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Contains(setting, problem.GetProperty("message").GetString(), StringComparison.Ordinal);
        return (problem.GetProperty("field").GetString()!, problem.GetProperty("reason_code").GetInt32());
    }
}
