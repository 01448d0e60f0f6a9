using System.Globalization;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Sys;

/// <summary><c>$SYS/broker/...</c> statistics, published retained every Broker:SysIntervalSeconds.</summary>
public sealed class SysTopicTests
{
    private static readonly Dictionary<string, string?> FastSys = new() { ["Broker:SysIntervalSeconds"] = "0.2" };

    private static readonly string[] AllTopics =
    [
        "$SYS/broker/version",
        "$SYS/broker/uptime",
        "$SYS/broker/clients/connected",
        "$SYS/broker/clients/total",
        "$SYS/broker/messages/received",
        "$SYS/broker/messages/sent",
        "$SYS/broker/messages/dropped",
        "$SYS/broker/messages/dropped/queue_full",
        "$SYS/broker/messages/dropped/qos0_queue_full",
        "$SYS/broker/messages/dropped/qos0_offline",
        "$SYS/broker/messages/dropped/expired",
        "$SYS/broker/messages/dropped/too_large_for_client",
        "$SYS/broker/messages/dropped/session_ended",
        "$SYS/broker/messages/dropped/no_subscribers",
        "$SYS/broker/messages/dropped/not_authorized",
        "$SYS/broker/messages/dropped/retained_store_full",
        "$SYS/broker/messages/dropped/store_failed",
        "$SYS/broker/messages/dropped/bridge_queue_full",
        "$SYS/broker/bytes/received",
        "$SYS/broker/bytes/sent",
        "$SYS/broker/subscriptions/count",
        "$SYS/broker/retained messages/count",
        "$SYS/broker/clients/slow_consumers_closed",
        "$SYS/broker/errors/internal",
        "$SYS/broker/errors/protocol",
    ];

    public static TheoryData<string> Topics => new(AllTopics);

    [Fact]
    public async Task SysTopics_AllStatisticsArePublished()
    {
        await using var broker = await TestBroker.StartAsync(FastSys);
        await using var client = await broker.ConnectAsync(TestIds.Client());
        await client.SubscribeGrantedAsync("$SYS/#", MqttQoS.AtMostOnce);

        var missing = new HashSet<string>(AllTopics, StringComparer.Ordinal);
        var seen = new List<string>();
        while (missing.Count > 0)
        {
            PublishPacket message;
            try
            {
                message = await client.ReceivePublishAsync();
            }
            catch (MqttTestException e)
            {
                throw new MqttTestException($"missing $SYS topics: {string.Join(", ", missing)}; seen: {string.Join(", ", seen.Distinct())}{Environment.NewLine}{e.Message}");
            }

            seen.Add(message.Topic);
            Assert.True(message.Payload.Length > 0, $"{message.Topic} has an empty payload");
            missing.Remove(message.Topic);
        }
    }

    [Theory]
    [MemberData(nameof(Topics))]
    public async Task SysTopics_AreRetainedForLateSubscribers(string topic)
    {
        await using var broker = await TestBroker.StartAsync(FastSys);
        await using var first = await broker.ConnectAsync(TestIds.Client("first"));
        await first.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        await first.ReceivePublishAsync(); // published at least once

        await using var late = await broker.ConnectAsync(TestIds.Client("late"));
        await late.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);
        var retained = await late.ReceivePublishAsync();
        Assert.Equal(topic, retained.Topic);
        Assert.True(retained.Retain, $"{topic} must be published retained so that a new subscriber gets it at once");
    }

    [Fact]
    public async Task SysTopics_NumericStatisticsAreDecimalNumbers()
    {
        await using var broker = await TestBroker.StartAsync(FastSys);
        await using var client = await broker.ConnectAsync(TestIds.Client());
        await client.SubscribeGrantedAsync("$SYS/#", MqttQoS.AtMostOnce);

        var pending = new HashSet<string>(AllTopics.Where(t => t != "$SYS/broker/version" && t != "$SYS/broker/uptime"), StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            var message = await client.ReceivePublishAsync();
            if (pending.Remove(message.Topic))
            {
                Assert.True(long.TryParse(message.PayloadText(), NumberStyles.None, CultureInfo.InvariantCulture, out _), $"{message.Topic} = '{message.PayloadText()}' is not a number");
            }
        }
    }

    [Fact]
    public async Task SysTopics_UptimeIncreases()
    {
        await using var broker = await TestBroker.StartAsync(FastSys);
        await using var client = await broker.ConnectAsync(TestIds.Client());
        await client.SubscribeGrantedAsync("$SYS/broker/uptime", MqttQoS.AtMostOnce);
        var first = (await client.ReceivePublishAsync()).PayloadText();

        // "N seconds" as Mosquitto; wait (bounded) for a later, different value.
        string next;
        var attempts = 0;
        do
        {
            next = (await client.ReceivePublishAsync()).PayloadText();
        }
        while (next == first && ++attempts < 50);

        Assert.NotEqual(first, next);
        Assert.True(LeadingNumber(next) > LeadingNumber(first), $"uptime went from '{first}' to '{next}'");
    }

    [Fact]
    public async Task SysTopics_ClientsConnectedFollowsConnections()
    {
        await using var broker = await TestBroker.StartAsync(FastSys);
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync("$SYS/broker/clients/connected", MqttQoS.AtMostOnce);
        await WaitForValueAsync(watcher, "1");

        await using (var second = await broker.ConnectAsync(TestIds.Client("two")))
        await using (var third = await broker.ConnectAsync(TestIds.Client("three")))
        {
            await WaitForValueAsync(watcher, "3");
            await second.DisconnectAsync();
            await third.DisconnectAsync();
        }

        await WaitForValueAsync(watcher, "1");
    }

    [Fact]
    public async Task SysTopics_MessagesReceivedCountsPublishes()
    {
        await using var broker = await TestBroker.StartAsync(FastSys);
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync("$SYS/broker/messages/received", MqttQoS.AtMostOnce);
        var before = long.Parse((await watcher.ReceivePublishAsync()).PayloadText(), CultureInfo.InvariantCulture);

        for (var i = 0; i < 5; i++)
        {
            await watcher.PublishAsync(TestIds.Topic(), "count me", MqttQoS.AtLeastOnce);
        }

        await WaitForAsync(watcher, v => long.Parse(v, CultureInfo.InvariantCulture) >= before + 5, $">= {before + 5}");
    }

    [Fact]
    public async Task SysTopics_SubscriptionsCountFollowsSubscriptions()
    {
        await using var broker = await TestBroker.StartAsync(FastSys);
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync("$SYS/broker/subscriptions/count", MqttQoS.AtMostOnce);
        await WaitForValueAsync(watcher, "1");

        await using var other = await broker.ConnectAsync(TestIds.Client("other"));
        await other.SubscribeAsync((TestIds.Topic(), MqttQoS.AtMostOnce), (TestIds.Topic(), MqttQoS.AtLeastOnce));
        await WaitForValueAsync(watcher, "3");
    }

    [Fact]
    public async Task SysTopics_RetainedCountFollowsRetainedMessages()
    {
        await using var broker = await TestBroker.StartAsync(FastSys);
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync("$SYS/broker/retained messages/count", MqttQoS.AtMostOnce);
        await watcher.ReceivePublishAsync();
        // After one full cycle every $SYS topic has been retained, so the count is stable.
        var baseline = long.Parse((await watcher.ReceivePublishAsync()).PayloadText(), CultureInfo.InvariantCulture);

        var root = TestIds.Topic();
        for (var i = 0; i < 3; i++)
        {
            await watcher.PublishAsync($"{root}/{i}", "kept", MqttQoS.AtLeastOnce, retain: true);
        }

        await WaitForValueAsync(watcher, (baseline + 3).ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Mqtt_4_7_2_1_WildcardFiltersDoNotMatchSysTopics()
    {
        await using var broker = await TestBroker.StartAsync(FastSys);
        await using var everything = await broker.ConnectAsync(TestIds.Client("all"));
        await everything.SubscribeGrantedAsync("#", MqttQoS.AtMostOnce);
        await everything.SubscribeGrantedAsync("+/broker/uptime", MqttQoS.AtMostOnce);
        await using var sys = await broker.ConnectAsync(TestIds.Client("sys"));
        await sys.SubscribeGrantedAsync("$SYS/#", MqttQoS.AtMostOnce);

        // Two updates of uptime prove at least one full $SYS cycle ran while "#" was subscribed.
        var uptimes = 0;
        while (uptimes < 2)
        {
            if ((await sys.ReceivePublishAsync()).Topic == "$SYS/broker/uptime")
            {
                uptimes++;
            }
        }

        await everything.ExpectNoPacketAsync();
    }

    private static Task WaitForValueAsync(RawMqttClient watcher, string expected) =>
        WaitForAsync(watcher, v => v == expected, $"'{expected}'");

    private static async Task WaitForAsync(RawMqttClient watcher, Func<string, bool> predicate, string what)
    {
        var values = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            PublishPacket message;
            try
            {
                message = await watcher.ReceivePublishAsync();
            }
            catch (MqttTestException e)
            {
                throw new MqttTestException($"waited for {what}; values seen: [{string.Join(", ", values)}]{Environment.NewLine}{e.Message}");
            }

            var value = message.PayloadText();
            values.Add(value);
            if (predicate(value))
            {
                return;
            }
        }

        throw new MqttTestException($"no update matched {what} within 50 updates; values seen: [{string.Join(", ", values)}]");
    }

    private static long LeadingNumber(string text)
    {
        var digits = new string(text.TakeWhile(char.IsAsciiDigit).ToArray());
        return digits.Length == 0 ? -1 : long.Parse(digits, CultureInfo.InvariantCulture);
    }
}
