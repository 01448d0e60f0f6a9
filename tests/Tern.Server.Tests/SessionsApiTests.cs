using System.Net;
using System.Text.Json;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>
/// Persistent sessions of disconnected clients in <c>/api/v5/clients</c>, and <c>DELETE</c>
/// discarding them, against a real broker with real MQTT clients.
/// </summary>
public sealed class SessionsApiTests
{
    [Fact]
    public async Task A_disconnected_persistent_session_is_listed_and_delete_discards_it()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var clientId = TestIds.Client("away");
        var topic = TestIds.Topic();
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using (var device = await dashboard.Broker.OpenRawAsync())
        {
            // MQTT 3.1.1 clean session 0: the session lasts Broker:MaxSessionExpirySeconds (7 days by default).
            var connAck = await device.ConnectAsync(clientId, cleanSession: false, username: "alice");
            Assert.Equal(0, connAck.ReasonCode);
            await device.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
            await device.DisconnectAsync();
        }

        var away = await WaitUntilDisconnectedAsync(dashboard, clientId);
        Assert.Equal(clientId, away.GetProperty("clientid").GetString());
        Assert.Equal("alice", away.GetProperty("username").GetString());
        Assert.InRange(away.GetProperty("disconnected_at").GetDateTimeOffset(), before, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(JsonValueKind.Null, away.GetProperty("connected_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, away.GetProperty("ip_address").ValueKind);
        Assert.Equal(JsonValueKind.Null, away.GetProperty("proto_ver").ValueKind);
        Assert.Equal(JsonValueKind.Null, away.GetProperty("keepalive").ValueKind);
        Assert.Equal(7 * 24 * 3600, away.GetProperty("expiry_interval").GetInt64());
        Assert.Equal(1, away.GetProperty("subscriptions_cnt").GetInt32());
        Assert.Equal(0, away.GetProperty("mqueue_len").GetInt32());

        // A message published while it is away waits in its session.
        Assert.True(await PublishMatchedAsync(dashboard, topic, "while away"));
        var waiting = await dashboard.GetJsonAsync("api/v5/clients/" + clientId);
        Assert.False(waiting.GetProperty("connected").GetBoolean());
        Assert.Equal(1, waiting.GetProperty("mqueue_len").GetInt32());
        var listed = Assert.Single((await dashboard.GetJsonAsync("api/v5/clients")).GetProperty("data").EnumerateArray());
        Assert.Equal(clientId, listed.GetProperty("clientid").GetString());
        var stats = await dashboard.GetJsonAsync("api/v5/stats?aggregate=true");
        Assert.Equal(0, stats.GetProperty("connections.count").GetInt32());
        Assert.Equal(1, stats.GetProperty("sessions.count").GetInt32());

        using (var delete = await dashboard.Http.DeleteAsync("api/v5/clients/" + clientId))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using (var gone = await dashboard.Http.GetAsync("api/v5/clients/" + clientId))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        Assert.Equal(0, (await dashboard.GetJsonAsync("api/v5/clients")).GetProperty("meta").GetProperty("count").GetInt32());
        Assert.Equal(0, (await dashboard.GetJsonAsync("api/v5/subscriptions")).GetProperty("meta").GetProperty("count").GetInt32());
        Assert.Equal(0, (await dashboard.GetJsonAsync("api/v5/stats?aggregate=true")).GetProperty("sessions.count").GetInt32());

        // Its subscription went with it: nothing matches and nothing is kept for the client.
        Assert.False(await PublishMatchedAsync(dashboard, topic, "after the discard"));
        await using var back = await dashboard.Broker.OpenRawAsync();
        var again = await back.ConnectAsync(clientId, cleanSession: false);
        Assert.Equal(0, again.ReasonCode);
        Assert.False(again.SessionPresent, "the discarded session is not resumed");
        await back.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task An_mqtt5_session_shows_its_expiry_while_the_client_is_away()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var clientId = TestIds.Client("away5");
        await using (var device = await dashboard.Broker.ConnectV5Async(clientId, new MqttProperties { SessionExpiryInterval = 600 }))
        {
            await device.SubscribeV5GrantedAsync(TestIds.Topic(), MqttQoS.AtLeastOnce);
            await device.DisconnectAsync();
        }

        var away = await WaitUntilDisconnectedAsync(dashboard, clientId);

        // The dashboard shows disconnected_at + expiry_interval as when the session ends.
        Assert.Equal(600, away.GetProperty("expiry_interval").GetInt64());
        Assert.Equal(JsonValueKind.String, away.GetProperty("disconnected_at").ValueKind);
        Assert.Equal(1, away.GetProperty("subscriptions_cnt").GetInt32());
    }

    [Fact]
    public async Task Kicking_a_connected_persistent_session_keeps_the_session()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var clientId = TestIds.Client("kick-keep");
        var topic = TestIds.Topic();
        await using (var device = await dashboard.Broker.ConnectV5Async(clientId, new MqttProperties { SessionExpiryInterval = 600 }))
        {
            await device.SubscribeV5GrantedAsync(topic, MqttQoS.AtLeastOnce);

            using var kick = await dashboard.Http.DeleteAsync("api/v5/clients/" + clientId);

            Assert.Equal(HttpStatusCode.NoContent, kick.StatusCode);
            await device.ExpectDisconnectAsync(ReasonCode.AdministrativeAction);
        }

        var away = await WaitUntilDisconnectedAsync(dashboard, clientId);
        Assert.Equal(1, away.GetProperty("subscriptions_cnt").GetInt32());
        Assert.True(await PublishMatchedAsync(dashboard, topic, "kept"));

        var (back, connAck) = await dashboard.Broker.OpenV5Async(clientId, new MqttProperties { SessionExpiryInterval = 600 }, cleanStart: false);
        await using (back)
        {
            Assert.True(connAck.SessionPresent, "a kick leaves the persistent session");
            await back.ExpectPublishAsync(topic, "kept");
        }
    }

    /// <summary>The client's entry once the broker has let go of its connection and kept its session.</summary>
    private static async Task<JsonElement> WaitUntilDisconnectedAsync(DashboardBroker dashboard, string clientId)
    {
        JsonElement found = default;
        await Eventually.HoldsAsync(
            async () =>
            {
                using var response = await dashboard.Http.GetAsync("api/v5/clients/" + clientId);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    return false;
                }

                found = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
                return !found.GetProperty("connected").GetBoolean();
            },
            $"{clientId} is listed as disconnected");
        return found;
    }

    private static async Task<bool> PublishMatchedAsync(DashboardBroker dashboard, string topic, string payload)
    {
        // EMQX's answer: 200 with an id when a subscription matched, 202 when none did.
        using var response = await dashboard.PublishAsync(new { topic, payload, qos = 1 });
        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.Accepted });
        return response.StatusCode == HttpStatusCode.OK;
    }
}
