using System.Text.Json;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>
/// Drops by reason, in-flight messages and overload protection in <c>/api/v5/metrics</c> and
/// <c>/api/v5/clients</c>, made to happen for real through the broker.
/// </summary>
public sealed class DropsApiTests
{
    private static readonly string[] Reasons =
    [
        "queue_full", "qos0_queue_full", "qos0_offline", "expired", "too_large_for_client",
        "session_ended", "no_subscribers", "not_authorized", "retained_store_full", "store_failed", "bridge_queue_full",
    ];

    [Fact]
    public async Task Stats_and_the_client_show_what_an_offline_session_could_not_queue_by_reason()
    {
        await using var dashboard = await DashboardBroker.StartAsync(Settings(("Broker:SysIntervalSeconds", "0"), ("Broker:MaxQueuedMessages", "1")));
        var before = await dashboard.GetJsonAsync("api/v5/metrics?aggregate=true");
        var reasons = before.EnumerateObject().Where(p => p.Name.StartsWith("messages.dropped.", StringComparison.Ordinal)).ToArray();
        Assert.Equal(Reasons.Select(r => "messages.dropped." + r), reasons.Select(p => p.Name));
        Assert.All(reasons, p => Assert.Equal(0, p.Value.GetInt64()));
        Assert.Equal(0, before.GetProperty("client.closed.internal_error").GetInt64());
        Assert.Equal(0, before.GetProperty("client.closed.slow_consumer").GetInt64());

        const string Away = "pump-2";
        var topic = TestIds.Topic();
        await using (var subscriber = await dashboard.Broker.ConnectAsync(Away, cleanSession: false))
        {
            await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
            await subscriber.DisconnectAsync();
        }

        await Eventually.HoldsAsync(async () => !(await dashboard.GetJsonAsync("api/v5/clients/" + Away)).GetProperty("connected").GetBoolean(), "the session is offline");
        await using var publisher = await dashboard.Broker.ConnectAsync(TestIds.Client("pub"));
        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishAsync(topic, $"m{i}", MqttQoS.AtLeastOnce);
        }

        await publisher.PublishAsync(TestIds.Topic(), "nobody listens", MqttQoS.AtLeastOnce);

        var metrics = await dashboard.GetJsonAsync("api/v5/metrics?aggregate=true");
        Assert.Equal(2, metrics.GetProperty("messages.dropped.queue_full").GetInt64());
        Assert.Equal(1, metrics.GetProperty("messages.dropped.no_subscribers").GetInt64());
        Assert.Equal(2, metrics.GetProperty("messages.dropped").GetInt64());

        var client = await dashboard.GetJsonAsync("api/v5/clients/" + Away);
        Assert.Equal(1, client.GetProperty("mqueue_len").GetInt32());
        Assert.Equal(2, client.GetProperty("send_msg.dropped").GetInt64());
        Assert.Equal(2, client.GetProperty("send_msg.dropped.queue_full").GetInt64());
        var byReason = Assert.Single(client.GetProperty("dropped_by_reason").EnumerateObject());
        Assert.Equal("queue_full", byReason.Name);
        Assert.Equal(2, byReason.Value.GetInt64());
        Assert.Equal(0, client.GetProperty("slowed_publishers").GetInt32());

        // The list shows the same; a client that lost nothing has an empty breakdown.
        var list = (await dashboard.GetJsonAsync("api/v5/clients")).GetProperty("data").EnumerateArray().ToDictionary(c => c.GetProperty("clientid").GetString()!);
        Assert.Equal(2, list[Away].GetProperty("send_msg.dropped").GetInt64());
        Assert.Equal(0, list[publisher.Name].GetProperty("send_msg.dropped").GetInt64());
        Assert.Equal(JsonValueKind.Object, list[publisher.Name].GetProperty("dropped_by_reason").ValueKind);
        Assert.Empty(list[publisher.Name].GetProperty("dropped_by_reason").EnumerateObject());
    }

    [Fact]
    public async Task A_subscriber_behind_shows_its_in_flight_messages_and_the_publisher_it_slows()
    {
        await using var dashboard = await DashboardBroker.StartAsync(Settings(("Broker:MaxInflight", "1"), ("Broker:MaxQueuedMessages", "2")));
        var topic = TestIds.Topic();
        await using var subscriber = await dashboard.Broker.ConnectAsync("slow-display");
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await using var publisher = await dashboard.Broker.ConnectAsync("sensor-9");

        // One in flight (not acknowledged), two queued: the queue reaches its high-water mark at the
        // third, whose PUBACK the broker holds back.
        var ids = new ushort[3];
        for (var i = 0; i < 3; i++)
        {
            ids[i] = publisher.NextPacketId();
            await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = "x"u8.ToArray(), QoS = MqttQoS.AtLeastOnce, PacketId = ids[i] });
        }

        Assert.Equal(ids[0], (await publisher.ReceiveAckAsync<PubAckPacket>()).PacketId);
        Assert.Equal(ids[1], (await publisher.ReceiveAckAsync<PubAckPacket>()).PacketId);
        var first = await subscriber.ReceivePublishAsync(ack: false);

        var slow = await dashboard.GetJsonAsync("api/v5/clients/slow-display");
        Assert.Equal(1, slow.GetProperty("inflight_cnt").GetInt32());
        Assert.Equal(2, slow.GetProperty("mqueue_len").GetInt32());
        Assert.Equal(1, slow.GetProperty("slowed_publishers").GetInt32());
        Assert.Equal(0, slow.GetProperty("send_msg.dropped").GetInt64());
        var sensor = await dashboard.GetJsonAsync("api/v5/clients/sensor-9");
        Assert.Equal(1, sensor.GetProperty("held_acknowledgements").GetInt32());
        Assert.Equal(1, sensor.GetProperty("times_slowed").GetInt64());

        // Acknowledged, the queue falls to its low-water mark and the held PUBACK goes out.
        await subscriber.AcknowledgeAsync(first);
        Assert.Equal(ids[2], (await publisher.ReceiveAckAsync<PubAckPacket>()).PacketId);
        var after = await dashboard.GetJsonAsync("api/v5/clients/slow-display");
        Assert.Equal(0, after.GetProperty("slowed_publishers").GetInt32());
        Assert.Equal(1, after.GetProperty("inflight_cnt").GetInt32());
        Assert.Equal(1, after.GetProperty("mqueue_len").GetInt32());
        sensor = await dashboard.GetJsonAsync("api/v5/clients/sensor-9");
        Assert.Equal(0, sensor.GetProperty("held_acknowledgements").GetInt32());
        Assert.Equal(1, sensor.GetProperty("times_slowed").GetInt64());
    }

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] pairs)
        => pairs.ToDictionary(p => p.Key, p => (string?)p.Value);
}
