using System.Net;
using System.Text.Json;
using Tern.Protocol;
using static Tern.Server.Tests.V5Tests;

namespace Tern.Server.Tests;

/// <summary>EMQX's <c>/api/v5/stats</c>, <c>/metrics</c>, <c>/nodes</c> and <c>/listeners</c> on a running broker.</summary>
public sealed class V5MonitorApiTests
{
    [Fact]
    public async Task Stats_metrics_nodes_and_listeners_show_the_broker_in_emqx_names()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var client = await dashboard.Broker.ConnectAsync("mon-1", version: MqttProtocolVersion.V500);
        await client.SubscribeAsync("a/b", MqttQoS.AtLeastOnce);
        await client.PublishAsync("x/y", "hello", MqttQoS.AtLeastOnce);

        var stats = Assert.Single((await GetOkAsync(dashboard.Http, "api/v5/stats")).EnumerateArray());
        var aggregate = await GetOkAsync(dashboard.Http, "api/v5/stats?aggregate=true");
        var metrics = Assert.Single((await GetOkAsync(dashboard.Http, "api/v5/metrics")).EnumerateArray());
        var node = Assert.Single((await GetOkAsync(dashboard.Http, "api/v5/nodes")).EnumerateArray());
        var listeners = await GetOkAsync(dashboard.Http, "api/v5/listeners");

        var name = node.GetProperty("node").GetString()!;
        Assert.StartsWith("tern@", name, StringComparison.Ordinal);
        Assert.Equal(name, stats.GetProperty("node").GetString());
        Assert.Equal(1, stats.GetProperty("connections.count").GetInt32());
        Assert.Equal(1, stats.GetProperty("subscriptions.count").GetInt32());
        Assert.Equal(1, stats.GetProperty("topics.count").GetInt32());
        Assert.Equal(1, aggregate.GetProperty("connections.count").GetInt32());
        Assert.False(aggregate.TryGetProperty("node", out _));
        Assert.True(metrics.GetProperty("messages.received").GetInt64() >= 1);
        Assert.True(metrics.GetProperty("bytes.received").GetInt64() > 0);
        Assert.True(metrics.GetProperty("messages.dropped.no_subscribers").GetInt64() >= 1);
        Assert.Equal("running", node.GetProperty("node_status").GetString());
        Assert.Equal(1, node.GetProperty("connections").GetInt32());
        Assert.Equal(name, (await GetOkAsync(dashboard.Http, "api/v5/nodes/" + Uri.EscapeDataString(name))).GetProperty("node").GetString());
        var tcp = listeners.EnumerateArray().Single(static l => l.GetProperty("type").GetString() == "tcp");
        Assert.EndsWith(":" + dashboard.Broker.Port, tcp.GetProperty("bind").GetString(), StringComparison.Ordinal);
        Assert.Equal("tcp:" + tcp.GetProperty("name").GetString(), tcp.GetProperty("id").GetString());
        Assert.True(tcp.GetProperty("running").GetBoolean());
    }

    [Fact]
    public async Task Unknown_nodes_bad_parameters_and_missing_authentication_are_refused()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        AssertError(await GetAsync(dashboard.Http, "api/v5/nodes/emqx@10.0.0.1"), HttpStatusCode.NotFound, "NOT_FOUND", "emqx@10.0.0.1");
        AssertError(await GetAsync(dashboard.Http, "api/v5/stats?aggregate=maybe"), HttpStatusCode.BadRequest, "BAD_REQUEST", "aggregate");
        AssertError(await GetAsync(dashboard.Http, "api/v5/metrics?aggregate=1"), HttpStatusCode.BadRequest, "BAD_REQUEST", "aggregate");
        using var anonymous = dashboard.CreateClient(null, null);
        foreach (var path in new[] { "api/v5/stats", "api/v5/metrics", "api/v5/nodes", "api/v5/listeners" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(anonymous, path)).Status);
        }

        Assert.Equal(JsonValueKind.Array, (await GetOkAsync(dashboard.Http, "api/v5/listeners")).ValueKind);
    }
}
