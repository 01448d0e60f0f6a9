using System.Net;
using System.Text.Json;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>EMQX's <c>/api/v5/trace</c>: a trace of a client id or a topic, read from a position as a growing log.</summary>
public sealed class V5TraceApiTests
{
    [Fact]
    public async Task A_client_trace_records_its_packets_both_ways_and_reads_on_from_a_position()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var (status, trace) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/trace", """{"name": "dev-7-trace", "type": "clientid", "clientid": "dev-7"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("clientid", trace!.Value.GetProperty("type").GetString());
        Assert.Equal("dev-7", trace.Value.GetProperty("clientid").GetString());
        Assert.Equal("running", trace.Value.GetProperty("status").GetString());

        await using var other = await dashboard.Broker.ConnectAsync("someone-else");
        await using var device = await dashboard.Broker.ConnectAsync("dev-7");
        await device.SubscribeGrantedAsync("dev-7/cmd", MqttQoS.AtLeastOnce);
        await other.PublishAsync("dev-7/cmd", "reboot", MqttQoS.AtLeastOnce);
        Assert.Equal("reboot", (await device.ReceivePublishAsync()).PayloadText());

        var first = await WaitForLogAsync(dashboard, "dev-7-trace", 0, "out  dev-7");
        var items = first.GetProperty("items").GetString()!;
        Assert.Contains("in   dev-7@", items, StringComparison.Ordinal);
        Assert.Contains(" CONNECT protocol=", items, StringComparison.Ordinal);
        Assert.Contains(" SUBSCRIBE id=", items, StringComparison.Ordinal);
        Assert.Contains("dev-7/cmd(qos 1)", items, StringComparison.Ordinal);
        Assert.Contains(" SUBACK id=", items, StringComparison.Ordinal);
        Assert.Contains(" PUBLISH topic=dev-7/cmd qos=1 retain=False dup=False id=", items, StringComparison.Ordinal);
        Assert.Contains("payload=6 bytes \"reboot\"", items, StringComparison.Ordinal);
        Assert.DoesNotContain("someone-else", items, StringComparison.Ordinal);

        // From the position it gave back: only what came since.
        var position = first.GetProperty("meta").GetProperty("position").GetInt64();
        await device.PublishAsync("dev-7/state", "up");
        var next = await WaitForLogAsync(dashboard, "dev-7-trace", position, "dev-7/state");
        var newer = next.GetProperty("items").GetString()!;
        Assert.DoesNotContain("SUBSCRIBE", newer, StringComparison.Ordinal);
        Assert.StartsWith(DateTime.UtcNow.ToString("yyyy-", System.Globalization.CultureInfo.InvariantCulture), newer, StringComparison.Ordinal);

        var listed = await GetOkAsync(dashboard.Http, "api/v5/trace");
        var one = Assert.Single(listed.EnumerateArray());
        Assert.True(one.GetProperty("log_size").EnumerateObject().Single().Value.GetInt64() >= next.GetProperty("meta").GetProperty("position").GetInt64());

        var (deleted, _) = await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/trace/dev-7-trace");
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        AssertError(await GetAsync(dashboard.Http, "api/v5/trace/dev-7-trace/log"), HttpStatusCode.NotFound, "NOT_FOUND", "name");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Delete, "api/v5/trace/dev-7-trace"), HttpStatusCode.NotFound, "NOT_FOUND", "name");
    }

    [Fact]
    public async Task A_topic_trace_records_matching_publishes_of_every_client_and_nothing_else()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var (status, _) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/trace", """{"name": "sensors", "type": "topic", "topic": "sensors/+/temp"}""");
        Assert.Equal(HttpStatusCode.OK, status);

        await using var a = await dashboard.Broker.ConnectAsync("pub-a");
        await using var b = await dashboard.Broker.ConnectAsync("pub-b");
        await a.PublishAsync("sensors/1/temp", "21.5");
        await b.PublishAsync("sensors/2/humidity", "40");
        await b.PublishAsync("sensors/2/temp", "19.0");

        var log = await WaitForLogAsync(dashboard, "sensors", 0, "sensors/2/temp");
        var items = log.GetProperty("items").GetString()!;
        Assert.Contains("in   pub-a@", items, StringComparison.Ordinal);
        Assert.Contains("topic=sensors/1/temp", items, StringComparison.Ordinal);
        Assert.DoesNotContain("humidity", items, StringComparison.Ordinal);
        Assert.DoesNotContain("CONNECT", items, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_requests_name_the_field_and_auth_is_required()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/trace", """{"name": "x", "type": "ip_address", "ip_address": "127.0.0.1"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "type");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/trace", """{"name": "x y", "type": "clientid", "clientid": "c"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "name");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/trace", """{"name": "x", "type": "topic", "topic": "a/#/b"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "topic");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/trace", """{"name": "x", "type": "clientid"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "clientid");
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/trace", """{"name": "x", "type": "clientid", "clientid": "c", "colour": "red"}"""), HttpStatusCode.BadRequest, "BAD_REQUEST", "colour");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/trace", """{"name": "x", "type": "clientid", "clientid": "c"}""")).Status);
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/trace", """{"name": "x", "type": "clientid", "clientid": "d"}"""), HttpStatusCode.BadRequest, "ALREADY_EXISTS", "name");
        AssertError(await GetAsync(dashboard.Http, "api/v5/trace/x/log?bytes=0"), HttpStatusCode.BadRequest, "BAD_REQUEST", "bytes");
        AssertError(await GetAsync(dashboard.Http, "api/v5/trace/x/log?position=-1"), HttpStatusCode.BadRequest, "BAD_REQUEST", "position");

        using var anonymous = dashboard.CreateClient(null, null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v5/trace")).StatusCode);
    }

    /// <summary>Reads the trace's log from <paramref name="position"/> until it holds <paramref name="text"/>.</summary>
    private static async Task<JsonElement> WaitForLogAsync(DashboardBroker dashboard, string name, long position, string text)
    {
        JsonElement log = default;
        await TestWait.UntilAsync(
            async () =>
            {
                log = await GetOkAsync(dashboard.Http, $"api/v5/trace/{name}/log?position={position}&bytes=100000");
                return log.GetProperty("items").GetString()!.Contains(text, StringComparison.Ordinal);
            },
            $"the trace {name} to record '{text}'");
        return log;
    }
}
