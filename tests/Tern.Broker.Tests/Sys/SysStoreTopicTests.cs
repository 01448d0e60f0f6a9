using System.Globalization;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Sys;

/// <summary>
/// The store in <c>$SYS/broker/store/...</c>: its size on disk, the batches and rows written since
/// start, and whether it writes; published only when the broker has a store.
/// </summary>
public sealed class SysStoreTopicTests : IDisposable
{
    private const string Size = "$SYS/broker/store/size";
    private const string Commits = "$SYS/broker/store/commits";
    private const string Rows = "$SYS/broker/store/rows";
    private const string Status = "$SYS/broker/store/status";
    private static readonly string[] StoreTopics = [Size, Commits, Rows, Status];

    private readonly string _directory = Directory.CreateTempSubdirectory("tern-sys-store-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("durable")]
    [InlineData("strict")]
    public async Task The_store_topics_count_what_is_written_and_say_ok(string mode)
    {
        await using var broker = await StartAsync(mode);
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync("$SYS/broker/store/#", MqttQoS.AtMostOnce);
        var before = await ReadCycleAsync(watcher);
        Assert.Equal("ok", before[Status]);
        var commits = Number(before, Commits);
        var rows = Number(before, Rows);

        // A persistent session with its subscription, and a retained message: rows in the store.
        await broker.LeaveOfflineAsync(TestIds.Client("away"), TestIds.Topic());
        await watcher.PublishAsync(TestIds.Topic(), "kept", MqttQoS.AtLeastOnce, retain: true);

        var after = await ReadCycleUntilAsync(watcher, c => Number(c, Commits) > commits && Number(c, Rows) >= rows + 3, $"commits > {commits} and rows >= {rows + 3}");
        Assert.Equal("ok", after[Status]);
    }

    [Fact]
    public async Task The_store_size_is_what_its_files_take_on_disk()
    {
        await using var broker = await StartAsync("durable");
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await broker.LeaveOfflineAsync(TestIds.Client("away"), TestIds.Topic());
        await watcher.SubscribeGrantedAsync(Size, MqttQoS.AtMostOnce);

        // The segments change while the store writes; once it is idle, the two agree.
        var seen = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            var value = (await watcher.ReceivePublishAsync()).PayloadText();
            seen.Add(value);
            var onDisk = Directory.GetFiles(_directory, "*.log").Sum(f => new FileInfo(f).Length);
            if (long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture) == onDisk)
            {
                Assert.True(onDisk > 0);
                return;
            }
        }

        Assert.Fail($"{Size} never matched the files' size; values seen: [{string.Join(", ", seen)}]");
    }

    [Fact]
    public async Task The_store_status_carries_the_failure_once_a_write_fails()
    {
        await using var broker = await StartAsync("durable");
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync(Status, MqttQoS.AtMostOnce);
        Assert.Equal("ok", (await watcher.ReceivePublishAsync()).PayloadText());

        StoreFault.FillDisk(broker.Server.StorePath!);
        await watcher.PublishAsync(TestIds.Topic(), "cannot be kept", MqttQoS.AtMostOnce, retain: true);

        var seen = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            var value = (await watcher.ReceivePublishAsync()).PayloadText();
            seen.Add(value);
            if (value != "ok")
            {
                Assert.Contains("No space left on device", value, StringComparison.Ordinal);
                return;
            }
        }

        Assert.Fail($"{Status} stayed ok after a failed write; values seen: [{string.Join(", ", seen)}]");
    }

    [Fact]
    public async Task Without_a_store_there_are_no_store_topics()
    {
        await using var broker = await TestBroker.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:SysIntervalSeconds"] = "0.2",
            ["Persistence:Mode"] = "memory",
        });
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync("$SYS/#", MqttQoS.AtMostOnce);

        // Two updates of uptime: at least one whole cycle was published while subscribed.
        var topics = new HashSet<string>(StringComparer.Ordinal);
        var uptimes = 0;
        while (uptimes < 2)
        {
            var topic = (await watcher.ReceivePublishAsync()).Topic;
            topics.Add(topic);
            uptimes += topic == "$SYS/broker/uptime" ? 1 : 0;
        }

        Assert.Contains("$SYS/broker/errors/protocol", topics);
        Assert.DoesNotContain(topics, t => t.StartsWith("$SYS/broker/store/", StringComparison.Ordinal));
    }

    private Task<TestBroker> StartAsync(string mode) => TestBroker.StartAsync(new Dictionary<string, string?>
    {
        ["Broker:SysIntervalSeconds"] = "0.2",
        ["Persistence:Mode"] = mode,
        ["Persistence:Directory"] = _directory,
    });

    private static long Number(Dictionary<string, string> cycle, string topic)
    {
        Assert.True(long.TryParse(cycle[topic], NumberStyles.None, CultureInfo.InvariantCulture, out var value), $"{topic} = '{cycle[topic]}' is not a number");
        return value;
    }

    /// <summary>The four store topics, read until each has a value (the latest wins).</summary>
    private static async Task<Dictionary<string, string>> ReadCycleAsync(RawMqttClient watcher)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        while (!StoreTopics.All(values.ContainsKey))
        {
            var message = await watcher.ReceivePublishAsync();
            values[message.Topic] = message.PayloadText();
        }

        return values;
    }

    private static async Task<Dictionary<string, string>> ReadCycleUntilAsync(RawMqttClient watcher, Func<Dictionary<string, string>, bool> predicate, string what)
    {
        var cycles = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            var cycle = await ReadCycleAsync(watcher);
            if (predicate(cycle))
            {
                return cycle;
            }

            cycles.Add($"commits {cycle[Commits]}, rows {cycle[Rows]}");
        }

        throw new MqttTestException($"no update matched {what} within 50 cycles; seen: [{string.Join("; ", cycles)}]");
    }
}
