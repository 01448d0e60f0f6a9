using System.Globalization;
using System.Text.Json;

namespace Tern.Cli.Tests;

/// <summary>
/// `tern bench` as a process against the in-process broker: short runs that check the counts
/// (sent, received, lost, gaps, duplicates), never the speed.
/// </summary>
public sealed class BenchTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Pubsub_CountsEveryMessageOnceAtEachSubscriber(int qos)
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-c", "2", "-S", "3", "-q", qos.ToString(CultureInfo.InvariantCulture),
            "-n", "300", "--json", "--prefix", $"b{qos}-{Environment.ProcessId}");

        Assert.Equal(600, summary.GetProperty("sent").GetInt64());
        Assert.Equal(1800, summary.GetProperty("expected").GetInt64());
        Assert.Equal(1800, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("gaps").GetInt64());
        Assert.Equal(0, summary.GetProperty("duplicates").GetInt64());
        Assert.Equal(1800, summary.GetProperty("latencies").GetInt64());
    }

    [Fact]
    public async Task Pubsub_PairsEachPublisherWithItsSubscriber()
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-c", "4", "-S", "4", "-t", "pair/%i", "-T", "pair/%i", "-q", "1",
            "-n", "200", "--json", "--prefix", $"pair-{Environment.ProcessId}");

        Assert.Equal(800, summary.GetProperty("expected").GetInt64());
        Assert.Equal(800, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task Pubsub_AtAFixedRate_SendsEachPublisherItsCountAndLosesNothing(int qos)
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-c", "3", "-S", "1", "-T", "#", "-q", qos.ToString(CultureInfo.InvariantCulture),
            "-r", "3000", "-n", "400", "--json", "--prefix", $"rate{qos}-{Environment.ProcessId}");

        Assert.Equal(1200, summary.GetProperty("sent").GetInt64());
        Assert.Equal(1200, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("gaps").GetInt64());
        Assert.Equal(0, summary.GetProperty("duplicates").GetInt64());
        Assert.True(summary.GetProperty("loadCpuPercent").GetDouble() > 0);
    }

    [Fact]
    public async Task Pubsub_Warmup_CountsMessagesButRecordsNoLatencyForThem()
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync(
            "bench", "pubsub", "-p", Port(broker), "-c", "2", "-S", "1", "-T", "#", "-r", "2000", "-n", "200",
            "--warmup", "600", "--json", "--prefix", $"warm-{Environment.ProcessId}");

        Assert.Equal(400, summary.GetProperty("received").GetInt64());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("latencies").GetInt64());
    }

    [Fact]
    public async Task Conn_OpensAndHoldsTheConnections()
    {
        await using var broker = await TernBroker.StartAsync();
        var summary = await RunJsonAsync("bench", "conn", "-p", Port(broker), "-c", "200", "-d", "1", "--json", "--prefix", $"conn-{Environment.ProcessId}");

        Assert.Equal(200, summary.GetProperty("connected").GetInt64());
        Assert.Equal(0, summary.GetProperty("connectFailures").GetInt64());
    }

    private static string Port(TernBroker broker) => broker.Port.ToString(CultureInfo.InvariantCulture);

    private static async Task<JsonElement> RunJsonAsync(params string[] args)
    {
        var (code, tern) = await TernProcess.RunAsync(args);
        await using (tern)
        {
            Assert.True(code == 0, $"tern {string.Join(' ', args)} exited {code}\n{tern.Stdout}\n{tern.Stderr}");
            var json = tern.Stdout.Trim().Split('\n')[^1];
            return JsonDocument.Parse(json).RootElement.Clone();
        }
    }
}
