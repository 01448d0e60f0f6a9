using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Tern.Client;
using Tern.Broker;
using Tern.Protocol;
using Tern.Server.Bridges;
using Tern.TestKit;
using Tern.Transports.Tests;

namespace Tern.Server.Tests.Bridges;

/// <summary>
/// Bridges (<c>Bridges</c>) to a real Mosquitto started by the test, and between two Terns: both
/// directions with prefixes, QoS 1 across a restart of the remote, the bounded queue, and no echo.
/// </summary>
public sealed class BridgeTests
{
    [Fact]
    public async Task Out_and_in_rules_swap_the_local_and_remote_prefixes_and_the_api_shows_the_bridge()
    {
        await using var mosquitto = await MosquittoRemote.StartAsync();
        await using var remoteWatch = await WatchClient.StartAsync(mosquitto.Port, "#");
        var settings = Bridge(0, "cloud", mosquitto.Port, "3.1.1",
            ("sensors/#", "out", 1, "edge/", "site1/"),
            ("cmd/#", "in", 1, "edge/", "site1/"));
        settings["Persistence:Mode"] = "memory";
        await using var dashboard = await DashboardBroker.StartAsync(settings);
        var bridge = BridgeOf(dashboard.Broker);
        await WaitForAsync(bridge, s => s.Connected && s.Subscribed, "the bridge connected and subscribed", mosquitto);
        await using var localWatch = await WatchClient.StartAsync(dashboard.Broker.Port, "#");

        // Out: the local prefix is matched and swapped for the remote one; other topics stay home.
        await using var localPublisher = await WatchClient.StartAsync(dashboard.Broker.Port, "unused/none");
        await localPublisher.PublishAsync("edge/other/t", "stays");
        await localPublisher.PublishAsync("edge/sensors/t1", "21.5");
        await remoteWatch.WaitForAsync("site1/sensors/t1", "21.5");

        // In: what the remote has under the remote prefix arrives under the local one.
        await remoteWatch.PublishAsync("site1/cmd/reboot", "now");
        await remoteWatch.PublishAsync("site1/elsewhere", "not subscribed");
        await localWatch.WaitForAsync("edge/cmd/reboot", "now");

        // Each message once; nothing that the rules do not cover crossed.
        await remoteWatch.PublishAsync("site1/cmd/marker", "end");
        await localWatch.WaitForAsync("edge/cmd/marker", "end");
        Assert.DoesNotContain(remoteWatch.Received, m => m.Payload == "stays");
        Assert.DoesNotContain(localWatch.Received, m => m.Payload == "not subscribed");
        Assert.Single(remoteWatch.Received, m => m.Topic == "site1/sensors/t1");
        Assert.Single(localWatch.Received, m => m.Topic == "edge/cmd/reboot");

        // The counts follow the acknowledgements, which may come after the watchers saw the messages.
        await WaitForAsync(bridge, s => s.Sent == 1 && s.Received == 2, "the counts caught up", mosquitto);
        var document = await V5Tests.GetOkAsync(dashboard.Http, "api/v5/bridges");
        var item = Assert.Single(document.EnumerateArray().ToArray());
        Assert.Equal("cloud", item.GetProperty("name").GetString());
        Assert.Equal($"127.0.0.1:{mosquitto.Port}", item.GetProperty("address").GetString());
        Assert.Equal("3.1.1", item.GetProperty("proto_ver").GetString());
        Assert.True(item.GetProperty("connected").GetBoolean());
        Assert.Equal("connected", item.GetProperty("state").GetString());
        Assert.Equal(1, item.GetProperty("sent").GetInt64());
        Assert.Equal(2, item.GetProperty("received").GetInt64());
        Assert.Equal(0, item.GetProperty("dropped").GetInt64());
        Assert.Equal(0, item.GetProperty("queued").GetInt32());
        Assert.Equal(JsonValueKind.Null, item.GetProperty("last_error").ValueKind);
    }

    [Fact]
    public async Task Qos1_messages_published_while_the_remote_is_down_arrive_once_it_is_back()
    {
        await using var mosquitto = await MosquittoRemote.StartAsync();

        // A persistent session on the remote: it keeps what arrives while the watcher reconnects.
        var remoteWatch = await WatchClient.StartAsync(mosquitto.Port, "q/#", "bridge-test-watcher", cleanSession: false);
        await using var broker = await TestBroker.StartAsync(Bridge(0, "cloud", mosquitto.Port, "3.1.1", ("q/#", "out", 1, "", "")));
        var bridge = BridgeOf(broker);
        await WaitForAsync(bridge, s => s.Connected, "the bridge connected", mosquitto);

        // Mosquitto's notification topic, retained on this broker: 1 while connected, 0 while not.
        var stateTopic = $"$SYS/broker/connection/{bridge.Status().Clientid}/state";
        await using var stateWatch = await WatchClient.StartAsync(broker.Port, "$SYS/broker/connection/#");
        await stateWatch.WaitForAsync(stateTopic, "1");
        broker.Server.Broker.Publish("q/0", "before"u8.ToArray(), MqttQoS.AtLeastOnce);
        await remoteWatch.WaitForAsync("q/0", "before");

        await mosquitto.StopAsync();
        await WaitForAsync(bridge, s => !s.Connected, "the bridge saw the remote go", mosquitto);
        await stateWatch.WaitForAsync(stateTopic, "0");
        const int count = 20;
        for (var i = 1; i <= count; i++)
        {
            broker.Server.Broker.Publish($"q/{i}", Encoding.UTF8.GetBytes($"m{i}"), MqttQoS.AtLeastOnce);
        }

        Assert.Equal(count, bridge.Status().Queued);
        await mosquitto.RestartAsync();
        await remoteWatch.WaitConnectedAsync();
        await remoteWatch.WaitForAsync(
            r => Enumerable.Range(1, count).All(i => r.Contains(($"q/{i}", $"m{i}"))),
            $"all {count} messages published while the remote was down",
            TestTimeouts.External * 2);
        await WaitForAsync(bridge, s => s.Queued == 0 && s.Sent == count + 1, "the queue emptied", mosquitto);
        await stateWatch.WaitForAsync(r => r.Count(m => m.Topic == stateTopic && m.Payload == "1") == 2, "connected again on the state topic");
        Assert.Equal(0, bridge.Status().Dropped);
        await remoteWatch.DisposeAsync();
    }

    [Fact]
    public async Task The_state_goes_to_the_remote_with_a_will_unless_local_only_or_off_and_a_stopping_bridge_says_0()
    {
        // a: Mosquitto's defaults; b: its own topic, on this broker only; c: no notifications.
        await using var mosquitto = await MosquittoRemote.StartAsync();
        await using var remoteWatch = await WatchClient.StartAsync(mosquitto.Port, "$SYS/broker/connection/#");
        Assert.True((await remoteWatch.Client.SubscribeAsync("bridges/#", MqttQoS.AtLeastOnce)).IsSuccess);
        Assert.True((await remoteWatch.Client.SubscribeAsync("n/#", MqttQoS.AtLeastOnce)).IsSuccess);
        var settings = Bridge(0, "a", mosquitto.Port, "3.1.1", ("n/a", "out", 1, "", ""))
            .With(Bridge(1, "b", mosquitto.Port, "5", ("n/b", "out", 1, "", "")))
            .With(Bridge(2, "c", mosquitto.Port, "3.1.1", ("n/c", "out", 1, "", "")));
        settings["Bridges:1:NotificationTopic"] = "bridges/b/state";
        settings["Bridges:1:NotificationsLocalOnly"] = "true";
        settings["Bridges:2:Notifications"] = "false";
        settings["Persistence:Mode"] = "memory";
        await using var broker = await TestBroker.StartAsync(settings);
        var service = broker.Server.Services.GetRequiredService<BridgeService>();
        var (a, b, c) = (service.Bridges[0], service.Bridges[1], service.Bridges[2]);
        var aTopic = $"$SYS/broker/connection/{a.Status().Clientid}/state";
        await using var localWatch = await WatchClient.StartAsync(broker.Port, "$SYS/broker/connection/#");
        Assert.True((await localWatch.Client.SubscribeAsync("bridges/#", MqttQoS.AtLeastOnce)).IsSuccess);
        await localWatch.WaitForAsync(r => r.Contains((aTopic, "1")) && r.Contains(("bridges/b/state", "1")), "a and b connected, on this broker");
        await WaitForAsync(c, s => s.Connected, "c connected", mosquitto);

        // Each bridge's forwarded message comes after its state message would have: a fence for b and c.
        foreach (var topic in new[] { "n/a", "n/b", "n/c" })
        {
            broker.Server.Broker.Publish(topic, "x"u8.ToArray(), MqttQoS.AtLeastOnce);
        }

        await remoteWatch.WaitForAsync(r => new[] { "n/a", "n/b", "n/c" }.All(t => r.Contains((t, "x"))), "the three forwarded messages");
        Assert.Equal(new[] { (aTopic, "1") }, remoteWatch.Received.Where(m => !m.Topic.StartsWith("n/", StringComparison.Ordinal)));
        Assert.Equal(new[] { aTopic }, broker.Server.Broker.GetRetainedMessages("$SYS/broker/connection/#").Select(m => m.Topic));

        // The state message is the bridge's own: not counted as sent, nor queued while it waits for its PUBACK.
        await WaitForAsync(a, s => s.Queued == 0 && s.Sent == 1, "a's message acknowledged", mosquitto);
        Assert.Null(a.Status().LastError);

        // A bridge that stops says 0 itself: the DISCONNECT that follows makes the remote discard its will.
        await service.ApplyAsync([], _ => true);
        await remoteWatch.WaitForAsync(aTopic, "0");
        await localWatch.WaitForAsync(r => r.Contains((aTopic, "0")) && r.Contains(("bridges/b/state", "0")), "a and b stopped, on this broker");
        Assert.Equal("stopped", b.Status().State);
        Assert.DoesNotContain(remoteWatch.Received, m => m.Topic.StartsWith("bridges/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Qos2_messages_cross_once_and_leave_the_store_only_after_the_remote_completed_them()
    {
        await using var remote = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Persistence:Mode"] = "memory" });
        await using var remoteWatch = await WatchClient.StartAsync(remote.Port, "q2/#");

        // With a store (the default): the bridge takes from its session in the broker.
        await using var local = await TestBroker.StartAsync(Bridge(0, "peer", remote.Port, "5", ("q2/#", "out", 2, "", "")));
        var bridge = BridgeOf(local);
        await WaitForAsync(bridge, s => s.Connected, "the bridge connected", null);
        const int count = 10;
        for (var i = 0; i < count; i++)
        {
            local.Server.Broker.Publish($"q2/{i % 2}", Encoding.UTF8.GetBytes($"m{i}"), MqttQoS.ExactlyOnce);
        }

        await remoteWatch.WaitForAsync(r => r.Count == count, $"{count} messages at the remote");
        await WaitForAsync(bridge, s => s.Sent == count && s.Queued == 0, "every message completed", null);
        if (local.Server.Broker.GetStoreSnapshot() is not null)
        {
            var session = local.Server.Broker.FindClient("$bridge/peer");
            Assert.NotNull(session);
            Assert.Equal((0, 0), (session.QueuedMessages, session.InflightMessages));
        }

        Assert.Equal(
            Enumerable.Range(0, count).Select(i => ($"q2/{i % 2}", $"m{i}")).ToList(),
            remoteWatch.Received);
    }

    [Fact]
    public async Task With_a_store_a_message_that_expires_while_the_remote_is_down_is_dropped_and_the_rest_get_what_remains()
    {
        await using var mosquitto = await MosquittoRemote.StartAsync();
        var arrived = new TaskCompletionSource<MqttMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var remoteWatch = new MqttClient(new MqttClientOptions
        {
            Host = "127.0.0.1",
            Port = mosquitto.Port,
            ClientId = "bridge-expiry-watcher",
            ProtocolVersion = MqttProtocolVersion.V500,
            CleanSession = false,
            SessionExpiryInterval = 3600,
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
        });
        remoteWatch.Connected += (_, _) => connected.TrySetResult();
        remoteWatch.Data += (_, e) => arrived.TrySetResult(e.Message);
        await remoteWatch.StartAsync();
        await connected.Task.WaitAsync(TestTimeouts.External);
        Assert.True((await remoteWatch.SubscribeAsync("exp/#", MqttQoS.AtLeastOnce).WaitAsync(TestTimeouts.External)).IsSuccess);
        await mosquitto.StopAsync();

        // The broker's clock is the test's: 20 s pass while the remote is down.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var settings = Bridge(0, "cloud", mosquitto.Port, "5", ("exp/#", "out", 1, "", ""));

        // A store whatever TERN_TEST_PERSISTENCE says: without one the interval is forwarded as published.
        var store = Directory.CreateTempSubdirectory("tern-bridge-expiry-");
        settings["Persistence:Mode"] = "durable";
        settings["Persistence:Directory"] = store.FullName;
        using var cleanup = new DirectoryCleanup(store);
        await using var broker = await TestBroker.StartAsync(settings, time: time);
        var bridge = BridgeOf(broker);
        broker.Server.Broker.Publish("exp/a", "short"u8.ToArray(), MqttQoS.AtLeastOnce, properties: new MqttProperties { MessageExpiryInterval = 10 });
        broker.Server.Broker.Publish("exp/a", "long"u8.ToArray(), MqttQoS.AtLeastOnce, properties: new MqttProperties { MessageExpiryInterval = 100 });
        time.Advance(TimeSpan.FromSeconds(20));
        await mosquitto.RestartAsync();

        // Forwarded in order: had the expired one gone out, it would have come first.
        var message = await arrived.Task.WaitAsync(TestTimeouts.External * 2);
        Assert.Equal("long", message.PayloadText);
        Assert.InRange(message.Properties?.MessageExpiryInterval ?? 0, 1u, 80u);
        await WaitForAsync(bridge, s => s.Queued == 0 && s.Sent == 1, "the queue emptied", mosquitto);
        Assert.Equal(1, bridge.Status().Dropped);
        Assert.Equal(1, broker.Server.Broker.GetSnapshot().Dropped[DropReason.Expired]);
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("durable")]
    public async Task A_remote_that_stays_down_fills_the_queue_and_the_rest_are_dropped_as_bridge_queue_full(string persistence)
    {
        // Nothing listens there: the bridge keeps retrying while the queue fills (in the client's
        // outbox in memory, in the broker's store when it has one).
        var settings = Bridge(0, "nowhere", MosquittoRemote.FreePort(), "5", ("t/#", "out", 1, "", ""));
        settings["Bridges:0:MaxQueued"] = "5";
        if (persistence == "memory")
        {
            settings["Persistence:Mode"] = "memory";
        }

        await using var broker = await TestBroker.StartAsync(settings);
        var bridge = BridgeOf(broker);
        for (var i = 0; i < 8; i++)
        {
            broker.Server.Broker.Publish($"t/{i}", "x"u8.ToArray(), MqttQoS.AtLeastOnce);
        }

        var status = bridge.Status();
        Assert.False(status.Connected);
        Assert.Equal(5, status.Queued);
        Assert.Equal(3, status.Dropped);
        Assert.Equal(3, broker.Server.Broker.GetSnapshot().Dropped[DropReason.BridgeQueueFull]);

        // With a store the queue is the broker's session $bridge/<name>, listed with the others.
        var session = broker.Server.Broker.FindClient("$bridge/nowhere");
        if (broker.Server.Broker.GetStoreSnapshot() is null)
        {
            Assert.Null(session);
        }
        else
        {
            Assert.NotNull(session);
            Assert.Equal((5, 3L), (session.QueuedMessages, session.DroppedByReason[DropReason.BridgeQueueFull]));
        }
    }

    [Theory]
    [InlineData("5", "memory")]
    [InlineData("3.1.1", "memory")]
    [InlineData("5", "durable")]
    [InlineData("3.1.1", "durable")]
    public async Task Two_terns_bridged_both_ways_on_the_same_topic_deliver_each_message_once_on_each_side(string version, string persistence)
    {
        await using var remote = await TestBroker.StartAsync(new Dictionary<string, string?> { ["Persistence:Mode"] = "memory" });
        var settings = Bridge(0, "peer", remote.Port, version, ("loop/#", "both", 1, "", ""));
        if (persistence == "memory")
        {
            // Durable: the default, and the bridge's session must skip what the bridge brought in.
            settings["Persistence:Mode"] = "memory";
        }

        await using var local = await TestBroker.StartAsync(settings);
        var bridge = BridgeOf(local);
        await WaitForAsync(bridge, s => s.Connected && s.Subscribed, "the bridge connected and subscribed", null);
        await using var localWatch = await WatchClient.StartAsync(local.Port, "loop/#");
        await using var remoteWatch = await WatchClient.StartAsync(remote.Port, "loop/#");

        await localWatch.PublishAsync("loop/a", "from-local");
        await remoteWatch.WaitForAsync("loop/a", "from-local");
        await remoteWatch.PublishAsync("loop/b", "from-remote");
        await localWatch.WaitForAsync("loop/b", "from-remote");

        // Markers both ways: an echo of the first two would travel the same ordered paths ahead of them.
        await localWatch.PublishAsync("loop/end", "local-marker");
        await remoteWatch.PublishAsync("loop/end", "remote-marker");
        foreach (var watch in new[] { localWatch, remoteWatch })
        {
            await watch.WaitForAsync(r => r.Contains(("loop/end", "local-marker")) && r.Contains(("loop/end", "remote-marker")), "both markers");
        }

        foreach (var (side, watch) in new[] { ("local", localWatch), ("remote", remoteWatch) })
        {
            var received = watch.Received;
            Assert.True(received.Count == 4, $"{side} side received {received.Count}: {string.Join(", ", received.Select(m => $"{m.Topic}={m.Payload}"))}");
            Assert.Single(received, m => m.Payload == "from-local");
            Assert.Single(received, m => m.Payload == "from-remote");
        }

        await WaitForAsync(bridge, s => s.Sent == 2 && s.Received == 2, "two sent and two received", null);

        // MQTT 3.1.1 announces the bridge (try_private); the remote lists it as one.
        Assert.Equal(version == "3.1.1", remote.Server.Broker.FindClient(bridge.Status().Clientid)!.IsBridge);
    }

    [Fact]
    public async Task A_bridge_over_mutual_tls_presents_its_client_certificate_and_forwards()
    {
        using var pki = new TestPki();
        var remoteSettings = pki.TlsSettings(mutual: true);
        remoteSettings["Listeners:Tls:PeerCertAsUsername"] = "true";
        remoteSettings["Persistence:Mode"] = "memory";
        await using var remote = await TestBroker.StartAsync(remoteSettings);
        await using var remoteWatch = await WatchClient.StartAsync(remote.Port, "secure/#");

        var settings = Bridge(0, "tls", remote.Server.TlsPort, "5", ("secure/#", "out", 1, "", ""));
        settings["Bridges:0:Address"] = $"localhost:{remote.Server.TlsPort.ToString(CultureInfo.InvariantCulture)}";
        settings["Bridges:0:Tls:Enabled"] = "true";
        settings["Bridges:0:Tls:CaFile"] = pki.CaFile;
        settings["Bridges:0:Tls:CertFile"] = pki.ClientCertFile;
        settings["Bridges:0:Tls:KeyFile"] = pki.ClientKeyFile;
        settings["Persistence:Mode"] = "memory";
        await using var local = await TestBroker.StartAsync(settings);
        var bridge = BridgeOf(local);
        await WaitForAsync(bridge, s => s.Connected, "the bridge connected over TLS", null);

        local.Server.Broker.Publish("secure/a", "sealed"u8.ToArray(), MqttQoS.AtLeastOnce);
        await remoteWatch.WaitForAsync("secure/a", "sealed");

        // The remote took the bridge's certificate as its identity.
        var client = remote.Server.Broker.FindClient(bridge.Status().Clientid);
        Assert.NotNull(client);
        Assert.Equal(TestPki.ClientName, client.Username);
    }

    [Fact]
    public void A_tls_file_that_does_not_exist_is_refused_naming_its_key()
    {
        var settings = Bridge(0, "cloud", 8883, "5", ("t/#", "out", 0, "", ""));
        settings["Bridges:0:Tls:Enabled"] = "true";
        settings["Bridges:0:Tls:CaFile"] = "/nonexistent/ca.pem";
        settings["Persistence:Mode"] = "memory";
        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(overrides: settings));
        Assert.Equal("Bridges:0:Tls:CaFile", ex.Key);
        Assert.Contains("/nonexistent/ca.pem", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bridges:0:Topics:0:Direction", "sideways", "Bridges:0:Topics:0:Direction")]
    [InlineData("Bridges:0:Topics:0:QoS", "3", "Bridges:0:Topics:0:QoS")]
    [InlineData("Bridges:0:Topics:0:Colour", "red", "Bridges:0:Topics:0:Colour")]
    [InlineData("Bridges:0:Address", "host:99999", "Bridges:0:Address")]
    [InlineData("Bridges:0:ProtocolVersion", "4", "Bridges:0:ProtocolVersion")]
    [InlineData("Bridges:0:ClientId", "edge/+", "Bridges:0:ClientId")]
    [InlineData("Bridges:0:Topics:0:LocalPrefix", "a/+/", "Bridges:0:Topics:0:LocalPrefix")]
    [InlineData("Bridges:0:NotificationTopic", "bridges/+/state", "Bridges:0:NotificationTopic")]
    [InlineData("Bridges:0:Notifications", "maybe", "Bridges:0:Notifications")]
    public void A_bad_bridge_setting_is_refused_naming_its_key(string key, string value, string named)
    {
        var settings = Bridge(0, "cloud", 1883, "3.1.1", ("t/#", "out", 0, "", ""));
        settings[key] = value;
        settings["Persistence:Mode"] = "memory";
        var ex = Assert.Throws<TernConfigurationException>(() => TernServer.Create(overrides: settings));
        Assert.Equal(named, ex.Key);
        Assert.Contains(named, ex.Message + " " + ex.Key, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> Bridge(int index, string name, int port, string version, params (string Pattern, string Direction, int QoS, string LocalPrefix, string RemotePrefix)[] topics)
    {
        var settings = BridgeSettings.For(index, name, port, [.. topics.Select(t => (t.Pattern, t.Direction, t.QoS))]);
        var p = $"Bridges:{index}:";
        settings[p + "ProtocolVersion"] = version;
        for (var i = 0; i < topics.Length; i++)
        {
            settings[$"{p}Topics:{i}:LocalPrefix"] = topics[i].LocalPrefix;
            settings[$"{p}Topics:{i}:RemotePrefix"] = topics[i].RemotePrefix;
        }

        return settings;
    }

    private static Bridge BridgeOf(TestBroker broker) => broker.Server.Services.GetRequiredService<BridgeService>().Bridges.Single();

    private static async Task WaitForAsync(Bridge bridge, Func<BridgeStatus, bool> condition, string what, MosquittoRemote? mosquitto)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.External;
        while (!condition(bridge.Status()))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Within {TestTimeouts.External.TotalSeconds:0} s: {what}. Bridge: {bridge.Status()}\n{mosquitto?.Log}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Deletes a test's store directory; declared before the broker that uses it, so disposed after it.</summary>
    private sealed class DirectoryCleanup(DirectoryInfo directory) : IDisposable
    {
        public void Dispose() => directory.Delete(recursive: true);
    }
}
