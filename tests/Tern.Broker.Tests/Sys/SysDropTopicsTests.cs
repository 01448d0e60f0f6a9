using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using Tern.Broker.Tests.Reliability;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Sys;

/// <summary>
/// What the broker did not deliver, and the connections it had to close, in <c>$SYS</c>: drops
/// made to happen for real through the broker and read back by a subscriber.
/// </summary>
public sealed partial class SysDropTopicsTests
{
    private const string Dropped = "$SYS/broker/messages/dropped";

    [Fact]
    public void Every_drop_reason_has_its_own_snake_case_name()
    {
        var names = Enum.GetValues<DropReason>().Select(DropReasonNames.Of).ToList();

        Assert.All(names, name => Assert.Matches(SnakeCase(), name));
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal("queue_full", DropReasonNames.Of(DropReason.QueueFull));
        Assert.Equal("qos0_queue_full", DropReasonNames.Of(DropReason.QoS0QueueFull));
        Assert.Equal("too_large_for_client", DropReasonNames.Of(DropReason.TooLargeForClient));
    }

    [Fact]
    public async Task Queue_full_counts_what_an_offline_persistent_session_could_not_queue()
    {
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:SysIntervalSeconds", "0.2"), ("Broker:MaxQueuedMessages", "1")));
        var topic = TestIds.Topic();
        var away = TestIds.Client("away");
        await broker.LeaveOfflineAsync(away, topic);

        await TestWait.UntilAsync(() => broker.Server.Broker.FindClient(away) is { Connected: false }, "the session is offline");
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync(Dropped + "/#", MqttQoS.AtMostOnce); // the total too
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));

        // One message fits in the queue; the next two are dropped.
        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishAsync(topic, $"m{i}", MqttQoS.AtLeastOnce);
        }

        // The total comes first in each cycle, then one topic per reason: only queue_full moved.
        await WaitForAsync(watcher, Dropped, "2");
        var cycle = await ReadUntilSeenAsync(watcher, Enum.GetValues<DropReason>().Select(r => Dropped + "/" + DropReasonNames.Of(r)));
        foreach (var reason in Enum.GetValues<DropReason>())
        {
            Assert.Equal(reason == DropReason.QueueFull ? "2" : "0", cycle[Dropped + "/" + DropReasonNames.Of(reason)]);
        }
    }

    [Fact]
    public async Task No_subscribers_counts_a_publish_nobody_wanted_but_not_the_broker_own_sys_updates_nor_the_total()
    {
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:SysIntervalSeconds", "0.2")));
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync(Dropped + "/no_subscribers", MqttQoS.AtMostOnce);
        await watcher.SubscribeGrantedAsync(Dropped, MqttQoS.AtMostOnce);

        for (var i = 0; i < 3; i++)
        {
            await watcher.PublishAsync(TestIds.Topic(), "nobody listens", MqttQoS.AtLeastOnce);
        }

        await WaitForAsync(watcher, Dropped + "/no_subscribers", "3");

        // Two more cycles, each publishing some twenty $SYS topics nobody subscribed to: still 3.
        await WaitForAsync(watcher, Dropped + "/no_subscribers", "3");
        var seen = await WaitForAsync(watcher, Dropped + "/no_subscribers", "3");
        Assert.Equal("0", seen[Dropped]);
    }

    [Fact]
    public async Task Errors_internal_counts_a_connection_closed_by_an_unexpected_exception()
    {
        await using var broker = await TestBroker.StartAsync(Settings(("Broker:SysIntervalSeconds", "0.2")));
        broker.Server.Broker.Authorizer = new ThrowingAuthorizer();
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync("$SYS/broker/errors/internal", MqttQoS.AtMostOnce);
        await WaitForAsync(watcher, "$SYS/broker/errors/internal", "0");
        await using var victim = await broker.ConnectAsync(TestIds.Client("victim"));

        await victim.SendAsync(new PublishPacket { Topic = "boom/x", Payload = "hi"u8.ToArray(), QoS = MqttQoS.AtLeastOnce, PacketId = 1 });

        Assert.True(await victim.WaitForCloseAsync());
        await WaitForAsync(watcher, "$SYS/broker/errors/internal", "1");
    }

    [Fact]
    public async Task Clients_slow_consumers_closed_counts_a_subscriber_closed_at_the_write_deadline()
    {
        var time = new FakeTimeProvider();
        await using var broker = await TestBroker.StartAsync(
            Settings(("Broker:MaxQueuedMessages", "10"), ("Broker:WriteTimeoutSeconds", "30"), ("Broker:SysIntervalSeconds", "10")), time: time);
        const string Topic = "$SYS/broker/clients/slow_consumers_closed";
        await using var watcher = await broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeGrantedAsync(Topic, MqttQoS.AtMostOnce);
        Assert.Equal("0", (await watcher.ReceivePublishAsync()).PayloadText());

        var topic = TestIds.Topic();
        await using var stuck = await RawMqttClient.OpenAsync(broker.Port, receiveBufferSize: 4096);
        Assert.Equal(0, (await stuck.ConnectAsync(TestIds.Client("stuck"))).ReasonCode);
        await stuck.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        stuck.PauseReading();
        await using var publisher = await broker.ConnectAsync(TestIds.Client("pub"));
        var stuckConnection = broker.Server.Broker.Connections.Single(c => c.ClientId == stuck.Name);

        // Large messages fill the socket until the broker's writer stalls on it.
        var payload = new byte[512 * 1024];
        for (var sent = 0; stuckConnection.FlushStalledSince == 0; sent++)
        {
            Assert.True(sent < 1000, "the writer to the stuck subscriber should have stalled by now");
            await publisher.SendAsync(new PublishPacket { Topic = topic, Payload = payload, QoS = MqttQoS.AtLeastOnce, PacketId = publisher.NextPacketId() });
            await publisher.SendAsync(PingReqPacket.Instance);
            while (await publisher.ReceiveAnyAsync() is not PingRespPacket)
            {
            }
        }

        // Past the deadline the subscriber is closed; each later $SYS cycle reports it.
        time.Advance(TimeSpan.FromSeconds(31));
        var values = new List<string>();
        for (var i = 0; i < 10 && !values.Contains("1"); i++)
        {
            time.Advance(TimeSpan.FromSeconds(10));
            values.Add((await watcher.ReceivePublishAsync()).PayloadText());
        }

        Assert.Equal("1", values[^1]);
        Assert.All(values, v => Assert.True(v is "0" or "1", $"values seen: {string.Join(", ", values)}"));
    }

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] pairs)
        => pairs.ToDictionary(p => p.Key, p => (string?)p.Value);

    /// <summary>
    /// Reads $SYS updates until <paramref name="topic"/> has <paramref name="expected"/>; returns the
    /// latest value of every topic seen on the way.
    /// </summary>
    private static async Task<Dictionary<string, string>> WaitForAsync(RawMqttClient watcher, string topic, string expected)
    {
        var latest = new Dictionary<string, string>(StringComparer.Ordinal);
        var values = new List<string>();
        for (var i = 0; i < 500; i++)
        {
            PublishPacket message;
            try
            {
                message = await watcher.ReceivePublishAsync();
            }
            catch (MqttTestException e)
            {
                throw new MqttTestException($"waited for {topic} = '{expected}'; values seen: [{string.Join(", ", values)}]{Environment.NewLine}{e.Message}");
            }

            latest[message.Topic] = message.PayloadText();
            if (message.Topic == topic)
            {
                values.Add(message.PayloadText());
                if (message.PayloadText() == expected)
                {
                    return latest;
                }

                // A counter only grows: once past the value it will never show it.
                if (long.Parse(message.PayloadText(), CultureInfo.InvariantCulture) > long.Parse(expected, CultureInfo.InvariantCulture))
                {
                    break;
                }
            }
        }

        throw new MqttTestException($"{topic} did not show '{expected}'; values seen: [{string.Join(", ", values)}]");
    }

    /// <summary>Reads $SYS updates until each of <paramref name="topics"/> came once; returns their values.</summary>
    private static async Task<Dictionary<string, string>> ReadUntilSeenAsync(RawMqttClient watcher, IEnumerable<string> topics)
    {
        var missing = new HashSet<string>(topics, StringComparer.Ordinal);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        while (missing.Count > 0)
        {
            var message = await watcher.ReceivePublishAsync();
            values[message.Topic] = message.PayloadText();
            missing.Remove(message.Topic);
        }

        return values;
    }

    [GeneratedRegex("^[a-z0-9]+(_[a-z0-9]+)*$")]
    private static partial Regex SnakeCase();
}
