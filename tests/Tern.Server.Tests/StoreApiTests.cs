using System.Text.Json;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Server.Tests;

/// <summary>The store in <c>/api/v1/stats</c>: its mode, file, size and what it wrote, or null without one.</summary>
public sealed class StoreApiTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-api-store-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Stats_have_a_null_store_in_memory_mode()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Persistence:Mode"] = "memory" });

        var stats = await dashboard.GetJsonAsync("api/v1/stats");

        Assert.True(stats.TryGetProperty("store", out var store), "stats have a store field");
        Assert.Equal(JsonValueKind.Null, store.ValueKind);
    }

    [Theory]
    [InlineData("durable")]
    [InlineData("strict")]
    public async Task Stats_show_the_store_mode_file_and_what_it_wrote(string mode)
    {
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using var dashboard = await StartAsync(mode);
        var before = (await dashboard.GetJsonAsync("api/v1/stats")).GetProperty("store");
        Assert.Equal(mode, before.GetProperty("mode").GetString());
        Assert.Equal(_directory, before.GetProperty("path").GetString());
        Assert.True(before.GetProperty("sizeBytes").GetInt64() > 0, "a new store has its tables on disk");
        Assert.Equal(JsonValueKind.Null, before.GetProperty("failure").ValueKind);
        Assert.False(before.TryGetProperty("commitsPerSecond", out _), "rates are computed from two calls, as for messages");
        var commits = before.GetProperty("commits").GetInt64();
        var rows = before.GetProperty("rowsWritten").GetInt64();

        // SUBACK of a persistent session goes out once its subscription is written.
        await dashboard.Broker.LeaveOfflineAsync(TestIds.Client("away"), TestIds.Topic());

        var after = (await dashboard.GetJsonAsync("api/v1/stats")).GetProperty("store");
        Assert.True(after.GetProperty("commits").GetInt64() > commits, $"commits went from {commits} to {after.GetProperty("commits")}");
        Assert.True(after.GetProperty("rowsWritten").GetInt64() >= rows + 2, $"rowsWritten went from {rows} to {after.GetProperty("rowsWritten")}: a session and its subscription");
        var lastCommit = after.GetProperty("lastCommit").GetDateTimeOffset();
        Assert.InRange(lastCommit, started, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(JsonValueKind.Null, after.GetProperty("failure").ValueKind);
    }

    [Fact]
    public async Task Stats_show_why_a_store_that_cannot_write_failed()
    {
        await using var dashboard = await StartAsync("durable");
        await using var client = await dashboard.Broker.ConnectAsync(TestIds.Client("pub"));

        StoreFault.FillDisk(dashboard.Broker.Server.StorePath!);
        await client.PublishAsync(TestIds.Topic(), "cannot be kept", MqttQoS.AtMostOnce, retain: true);

        string? failure = null;
        await Eventually.HoldsAsync(
            async () => (failure = (await dashboard.GetJsonAsync("api/v1/stats")).GetProperty("store").GetProperty("failure").GetString()) is not null,
            "the store reports its failure");
        Assert.Contains("No space left on device", failure, StringComparison.Ordinal);
    }

    private Task<DashboardBroker> StartAsync(string mode) => DashboardBroker.StartAsync(new Dictionary<string, string?>
    {
        ["Broker:SysIntervalSeconds"] = "0",
        ["Persistence:Mode"] = mode,
        ["Persistence:Directory"] = _directory,
    });
}
