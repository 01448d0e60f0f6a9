using System.Globalization;
using System.Net;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>EMQX's <c>/api/v5/mqtt/retainer/messages</c> and <c>/message/{topic}</c> over messages real clients retained.</summary>
public sealed class V5RetainedApiTests
{
    private static readonly Dictionary<string, string?> NoSys = new() { ["Broker:SysIntervalSeconds"] = "0" };

    [Fact]
    public async Task Messages_lists_retained_messages_without_payloads_and_pages()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys);
        await using (var publisher = await dashboard.Broker.ConnectAsync("thermo-1"))
        {
            await publisher.PublishAsync("sensors/temp", "21.5", MqttQoS.AtMostOnce, retain: true);
            await publisher.PublishAsync("sensors/hum", "40", MqttQoS.AtMostOnce, retain: true);
            await publisher.PublishAsync("lights/hall", "on", MqttQoS.AtMostOnce, retain: true);
            await publisher.PingAsync();
        }

        var all = await GetOkAsync(dashboard.Http, "api/v5/mqtt/retainer/messages");
        var sensors = await GetOkAsync(dashboard.Http, "api/v5/mqtt/retainer/messages?topic=sensors/%23&limit=1");

        Assert.Equal(
            ["lights/hall", "sensors/hum", "sensors/temp"],
            all.GetProperty("data").EnumerateArray().Select(static m => m.GetProperty("topic").GetString()!).ToArray());
        Assert.Equal(3, all.GetProperty("meta").GetProperty("count").GetInt32());
        var first = all.GetProperty("data")[0];
        Assert.Equal(0, first.GetProperty("qos").GetInt32());
        Assert.Equal("thermo-1", first.GetProperty("from_clientid").GetString());
        Assert.False(first.TryGetProperty("payload", out _), "the list leaves payloads out, as EMQX does");
        var publishedAt = DateTimeOffset.Parse(first.GetProperty("publish_at").GetString()!, CultureInfo.InvariantCulture);
        Assert.InRange(publishedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal("sensors/hum", Assert.Single(sensors.GetProperty("data").EnumerateArray()).GetProperty("topic").GetString());
        Assert.True(sensors.GetProperty("meta").GetProperty("hasnext").GetBoolean());
        AssertError(await GetAsync(dashboard.Http, "api/v5/mqtt/retainer/messages?topic=a/%23/b"), HttpStatusCode.BadRequest, "BAD_REQUEST", "topic");
        AssertError(await GetAsync(dashboard.Http, "api/v5/mqtt/retainer/messages?page=0"), HttpStatusCode.BadRequest, "BAD_REQUEST", "page");
    }

    [Fact]
    public async Task Message_by_url_encoded_topic_has_its_payload_in_base64()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys);
        await using (var publisher = await dashboard.Broker.ConnectAsync("thermo-2"))
        {
            // Returns once the broker acknowledged it (PUBACK), so it is stored.
            await publisher.PublishAsync("sensors/temp", "21.5", MqttQoS.AtLeastOnce, retain: true);
        }

        var message = await GetOkAsync(dashboard.Http, "api/v5/mqtt/retainer/message/sensors%2Ftemp");

        Assert.Equal("sensors/temp", message.GetProperty("topic").GetString());
        Assert.Equal(1, message.GetProperty("qos").GetInt32());
        Assert.Equal("MjEuNQ==", message.GetProperty("payload").GetString());
        AssertError(await GetAsync(dashboard.Http, "api/v5/mqtt/retainer/message/sensors%2Fnone"), HttpStatusCode.NotFound, "NOT_FOUND", "sensors/none");
        AssertError(await GetAsync(dashboard.Http, "api/v5/mqtt/retainer/message/sensors%2F%23"), HttpStatusCode.BadRequest, "BAD_REQUEST", "topic");
    }

    [Fact]
    public async Task Delete_removes_the_retained_message_without_sending_anything()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys);
        await using var subscriber = await dashboard.Broker.ConnectAsync("watcher");
        await subscriber.SubscribeGrantedAsync("doors/#", MqttQoS.AtMostOnce);
        await using (var publisher = await dashboard.Broker.ConnectAsync("door-1"))
        {
            await publisher.PublishAsync("doors/front", "open", MqttQoS.AtMostOnce, retain: true);
        }

        Assert.Equal("open", (await subscriber.ReceivePublishAsync()).PayloadText());

        var (status, _) = await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/mqtt/retainer/message/doors%2Ffront");

        Assert.Equal(HttpStatusCode.NoContent, status);
        await subscriber.ExpectNoPacketAsync();
        await using var late = await dashboard.Broker.ConnectAsync("late");
        await late.SubscribeGrantedAsync("doors/#", MqttQoS.AtMostOnce);
        await late.ExpectNoPacketAsync();
        AssertError(await GetAsync(dashboard.Http, "api/v5/mqtt/retainer/message/doors%2Ffront"), HttpStatusCode.NotFound, "NOT_FOUND", "doors/front");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/mqtt/retainer/message/doors%2Ffront"), HttpStatusCode.NotFound, "NOT_FOUND", "doors/front");
    }

    [Fact]
    public async Task Retainer_needs_credentials_to_delete()
    {
        await using var dashboard = await DashboardBroker.StartAsync(NoSys);
        dashboard.Broker.Server.Broker.Publish("kept/one", "x"u8.ToArray(), retain: true);
        using var anonymous = dashboard.CreateClient(null, null);

        AssertError(await SendAsync(anonymous, HttpMethod.Delete, "api/v5/mqtt/retainer/message/kept%2Fone"), HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Authentication required");
        await GetOkAsync(dashboard.Http, "api/v5/mqtt/retainer/message/kept%2Fone");
    }
}
