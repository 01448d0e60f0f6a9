using System.Text.Json;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>The store in <c>/api/v5/nodes</c>: its mode, file, size and what it wrote, or null without one.</summary>
public sealed class StoreApiTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-api-store-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_node_has_a_null_store_in_memory_mode()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Persistence:Mode"] = "memory" });

        var node = await NodeAsync(dashboard);

        Assert.True(node.TryGetProperty("store", out var store), "the node has a store field");
        Assert.Equal(JsonValueKind.Null, store.ValueKind);
    }

    [Theory]
    [InlineData("durable")]
    [InlineData("strict")]
    public async Task The_node_shows_the_store_mode_file_and_what_it_wrote(string mode)
    {
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using var dashboard = await StartAsync(mode);
        var before = (await NodeAsync(dashboard)).GetProperty("store");
        Assert.Equal(mode, before.GetProperty("mode").GetString());
        Assert.Equal(_directory, before.GetProperty("path").GetString());
        Assert.True(before.GetProperty("size_bytes").GetInt64() > 0, "a new store has its tables on disk");
        Assert.Equal(JsonValueKind.Null, before.GetProperty("failure").ValueKind);
        Assert.False(before.TryGetProperty("commits_per_second", out _), "rates are computed from two calls, as for messages");
        var commits = before.GetProperty("commits").GetInt64();
        var rows = before.GetProperty("rows_written").GetInt64();

        // SUBACK of a persistent session goes out once its subscription is written.
        await dashboard.Broker.LeaveOfflineAsync(TestIds.Client("away"), TestIds.Topic());

        var after = (await NodeAsync(dashboard)).GetProperty("store");
        Assert.True(after.GetProperty("commits").GetInt64() > commits, $"commits went from {commits} to {after.GetProperty("commits")}");
        Assert.True(after.GetProperty("rows_written").GetInt64() >= rows + 2, $"rows_written went from {rows} to {after.GetProperty("rows_written")}: a session and its subscription");
        var lastCommit = after.GetProperty("last_commit").GetDateTimeOffset();
        Assert.InRange(lastCommit, started, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(JsonValueKind.Null, after.GetProperty("failure").ValueKind);
    }

    [Fact]
    public async Task The_node_shows_why_a_store_that_cannot_write_failed()
    {
        await using var dashboard = await StartAsync("durable");
        await using var client = await dashboard.Broker.ConnectAsync(TestIds.Client("pub"));

        StoreFault.FillDisk(dashboard.Broker.Server.StorePath!);
        await client.PublishAsync(TestIds.Topic(), "cannot be kept", MqttQoS.AtMostOnce, retain: true);

        string? failure = null;
        await Eventually.HoldsAsync(
            async () => (failure = (await NodeAsync(dashboard)).GetProperty("store").GetProperty("failure").GetString()) is not null,
            "the store reports its failure");
        Assert.Contains("No space left on device", failure, StringComparison.Ordinal);
    }

    /// <summary>The one node of <c>GET /api/v5/nodes</c>.</summary>
    private static async Task<JsonElement> NodeAsync(DashboardBroker dashboard) => (await dashboard.GetJsonAsync("api/v5/nodes"))[0];

    private Task<DashboardBroker> StartAsync(string mode) => DashboardBroker.StartAsync(new Dictionary<string, string?>
    {
        ["Broker:SysIntervalSeconds"] = "0",
        ["Persistence:Mode"] = mode,
        ["Persistence:Directory"] = _directory,
    });
}
