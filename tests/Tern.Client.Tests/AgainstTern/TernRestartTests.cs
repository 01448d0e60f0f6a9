using System.Globalization;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Client.Tests;

/// <summary>
/// Tern's broker stops and a new one starts on the same port and data directory. With the store (the
/// default, durable) the persistent session is back: subscriptions, queued messages and retained
/// messages survive, and the client finds its session present. With Persistence:Mode=memory the
/// new broker knows nothing, and the client resends its outbox and resubscribes by itself.
/// </summary>
public sealed class TernRestartTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-restart-").FullName;
    private string _mode = "durable";
    private TestBroker? _broker;

    private int _port;

    private string Uri => $"mqtt://127.0.0.1:{_port}";

    public async Task InitializeAsync()
    {
        _broker = await StartBrokerAsync(port: 0);
        _port = _broker.Port;
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_persistent_session_its_subscription_queued_and_retained_messages_survive_the_restart()
    {
        string topic = TestClient.UniqueTopic("restart");
        const string DeviceId = "restart-device";
        await using var sub = await TestClient.ConnectAsync(Uri, o => { o.ClientId = DeviceId; o.CleanSession = false; o.AutoReconnect = false; });
        await sub.SubscribeAsync(topic + "/#", MqttQoS.ExactlyOnce);
        await sub.Client.DisconnectAsync();

        // The device is offline: the broker queues what is published to it and acknowledges it.
        await using (var pub = await TestClient.ConnectAsync(Uri))
        {
            for (int i = 0; i < 20; i++)
            {
                var result = await pub.Client.PublishAsync($"{topic}/{(i % 2) + 1}", $"m{i}", i % 2 == 0 ? MqttQoS.AtLeastOnce : MqttQoS.ExactlyOnce).WaitAsync(EventLog.Timeout);
                Assert.True(result.IsSuccess, result.ToString());
            }

            Assert.True((await pub.Client.PublishAsync($"{topic}/config", "retained", MqttQoS.AtLeastOnce, retain: true).WaitAsync(EventLog.Timeout)).IsSuccess);
        }

        await RestartBrokerAsync(() => Task.CompletedTask);

        Assert.True(await sub.Client.ReconnectAsync());
        var connected = await sub.Events.WaitCountAsync<ConnectedEventArgs>(2);
        Assert.True(connected[1].SessionPresent, "the new broker has the session");

        // The client resubscribes only when the session is gone: these come from the stored subscription.
        var data = await sub.Events.WaitCountAsync<DataEventArgs>(21);
        Assert.Equal(
            Enumerable.Range(0, 20).Select(i => $"m{i}").Append("retained").Order(StringComparer.Ordinal),
            data.Select(e => e.Message.PayloadText).Order(StringComparer.Ordinal));

        await using var late = await TestClient.ConnectAsync(Uri);
        await late.SubscribeAsync(topic + "/config", MqttQoS.AtLeastOnce);
        var retained = await late.Events.WaitAsync<DataEventArgs>();
        Assert.Equal(("retained", true), (retained.Message.PayloadText, retained.Message.Retain));
    }

    [Fact]
    public async Task Memory_mode_outbox_is_resent_to_the_new_broker_and_the_subscriber_resubscribes_nothing_lost_at_qos1_and_qos2()
    {
        _mode = "memory";
        await RestartBrokerAsync(() => Task.CompletedTask);
        string topic = TestClient.UniqueTopic("restart");
        await using var sub = await TestClient.ConnectAsync(Uri);
        await sub.SubscribeAsync(topic + "/#", MqttQoS.ExactlyOnce);
        // Without auto reconnect the publisher stays offline until the test says so, which lets
        // the test make sure the subscriber is back first (the new broker queues nothing for it).
        await using var pub = await TestClient.ConnectAsync(Uri, o => o.AutoReconnect = false);

        await RestartBrokerAsync(async () =>
        {
            await sub.Events.WaitAsync<DisconnectedEventArgs>();
            await pub.Events.WaitAsync<DisconnectedEventArgs>();
            for (int i = 0; i < 20; i++)
            {
                int id = pub.Client.Publish($"{topic}/{(i % 2) + 1}", $"m{i}", i % 2 == 0 ? MqttQoS.AtLeastOnce : MqttQoS.ExactlyOnce);
                Assert.True(id > 0, $"Publish while offline returned {id}");
            }

            Assert.Equal(20, pub.Client.OutboxCount);
        });

        var reconnected = await sub.Events.WaitCountAsync<ConnectedEventArgs>(2);
        Assert.False(reconnected[1].SessionPresent);
        await ProbeUntilSubscribedAsync(sub, topic + "/probe");

        Assert.True(await pub.Client.ReconnectAsync());
        await pub.Events.WaitCountAsync<PublishedEventArgs>(20);
        var data = await sub.Events.WaitCountAsync<DataEventArgs>(20, e => e.Message.PayloadText.StartsWith('m'));

        Assert.Equal(0, pub.Client.OutboxCount);
        Assert.Equal(
            Enumerable.Range(0, 20).Select(i => $"m{i}").Order(StringComparer.Ordinal),
            data.Select(e => e.Message.PayloadText).Distinct().Order(StringComparer.Ordinal));
        var qos2 = data.Where(e => e.Message.Topic.EndsWith("/2", StringComparison.Ordinal)).Select(e => e.Message.PayloadText).ToList();
        Assert.Equal(10, qos2.Count); // exactly once: none missing, none twice
    }

    [Fact]
    public async Task Memory_mode_awaited_qos1_publish_made_while_the_broker_is_down_completes_once_it_is_back()
    {
        _mode = "memory";
        await RestartBrokerAsync(() => Task.CompletedTask);
        string topic = TestClient.UniqueTopic("await");
        await using var sub = await TestClient.ConnectAsync(Uri);
        await sub.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        await using var pub = await TestClient.ConnectAsync(Uri);
        Task<PublishResult>? pending = null;

        await RestartBrokerAsync(async () =>
        {
            await pub.Events.WaitAsync<DisconnectedEventArgs>();
            await sub.Events.WaitAsync<DisconnectedEventArgs>();
            pending = pub.Client.PublishAsync(topic, "late", MqttQoS.AtLeastOnce);
            Assert.False(pending.IsCompleted);
        });

        // Both reconnect on their own (backoff); the publish may reach the broker before the
        // subscriber is back, so the test checks the acknowledgement and then delivery of a retry.
        var result = await pending!.WaitAsync(EventLog.Timeout);
        Assert.True(result.IsSuccess);
        await sub.Events.WaitCountAsync<ConnectedEventArgs>(2);
        await ProbeUntilSubscribedAsync(sub, topic);
    }

    /// <summary>Stops the broker, runs <paramref name="whileDown"/>, starts a new broker on the same port.</summary>
    private async Task RestartBrokerAsync(Func<Task> whileDown)
    {
        await _broker!.DisposeAsync();
        _broker = null;
        await whileDown();
        _broker = await StartBrokerAsync(_port);
    }

    private Task<TestBroker> StartBrokerAsync(int port) => TestBroker.StartAsync(new Dictionary<string, string?>
    {
        ["Listeners:Tcp:Port"] = port.ToString(CultureInfo.InvariantCulture),
        ["Persistence:Mode"] = _mode,
        ["Persistence:Directory"] = _directory,
    });

    /// <summary>
    /// The client resubscribes silently (no Subscribed event), so the test publishes probes to
    /// <paramref name="probeTopic"/> until one arrives: bounded attempts, each waiting a short while
    /// for the probe's delivery event.
    /// </summary>
    private async Task ProbeUntilSubscribedAsync(TestClient sub, string probeTopic)
    {
        await using var probe = await TestClient.ConnectAsync(Uri);
        for (int attempt = 0; attempt < 50; attempt++)
        {
            await probe.Client.PublishAsync(probeTopic, "probe", MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
            try
            {
                await sub.Events.WaitAsync<DataEventArgs>(e => e.Message.PayloadText == "probe").WaitAsync(TimeSpan.FromMilliseconds(200));
                return;
            }
            catch (TimeoutException)
            {
                // Not subscribed yet: the probe went nowhere. Try again.
            }
        }

        throw new TimeoutException("The client did not resubscribe after the broker restart. Events: " + sub.Events.Describe());
    }
}
