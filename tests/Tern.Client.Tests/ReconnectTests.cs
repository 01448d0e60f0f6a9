using Tern.Protocol;

namespace Tern.Client.Tests;

/// <summary>The broker goes away and comes back on the same port; each test has its own broker.</summary>
public sealed class ReconnectTests : IAsyncLifetime
{
    private readonly MosquittoBroker _broker = new(persistence: true);

    public Task InitializeAsync() => _broker.StartAsync();

    public Task DisposeAsync() => _broker.DisposeAsync().AsTask();

    [Fact]
    public async Task Outbox_survives_a_broker_restart_and_nothing_is_lost_or_duplicated_at_qos2()
    {
        string topic = TestClient.UniqueTopic("r");
        await using var sub = await TestClient.ConnectAsync(_broker.Uri, o => { o.ClientId = "sub-" + Guid.NewGuid().ToString("N"); o.CleanSession = false; });
        await sub.SubscribeAsync(topic + "/#", MqttQoS.ExactlyOnce);
        await using var pub = await TestClient.ConnectAsync(_broker.Uri, o => o.ClientId = "pub-" + Guid.NewGuid().ToString("N"));

        await _broker.StopAsync(graceful: true);
        await sub.Events.WaitAsync<DisconnectedEventArgs>();
        await pub.Events.WaitAsync<DisconnectedEventArgs>();
        Assert.NotEqual(MqttClientState.Connected, pub.Client.State);

        var ids = new List<int>();
        for (int i = 0; i < 20; i++)
        {
            ids.Add(pub.Client.Publish($"{topic}/{i % 2 + 1}", $"m{i}", i % 2 == 0 ? MqttQoS.AtLeastOnce : MqttQoS.ExactlyOnce));
        }

        Assert.All(ids, id => Assert.True(id > 0));
        Assert.Equal(20, pub.Client.OutboxCount);

        await _broker.StartAsync();
        await pub.Events.WaitCountAsync<PublishedEventArgs>(20);
        IReadOnlyList<DataEventArgs> data;
        try
        {
            data = await sub.Events.WaitCountAsync<DataEventArgs>(20, e => e.Message.Topic.StartsWith(topic, StringComparison.Ordinal));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + "\nBroker log:\n" + _broker.Log, ex);
        }

        Assert.Equal(0, pub.Client.OutboxCount);
        var connected = await sub.Events.WaitCountAsync<ConnectedEventArgs>(2);
        Assert.True(connected[1].SessionPresent);
        var payloads = data.Select(e => e.Message.PayloadText).ToList();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}").Order(StringComparer.Ordinal), payloads.Distinct().Order(StringComparer.Ordinal));
        var qos2 = data.Where(e => e.Message.Topic.EndsWith("/2", StringComparison.Ordinal)).Select(e => e.Message.PayloadText).ToList();
        Assert.Equal(qos2.Count, qos2.Distinct().Count());
    }

    [Fact]
    public async Task Clean_session_client_resubscribes_after_the_broker_lost_everything()
    {
        string topic = TestClient.UniqueTopic("r");
        await using var c = await TestClient.ConnectAsync(_broker.Uri);
        await c.SubscribeAsync(topic, MqttQoS.AtLeastOnce);

        await _broker.StopAsync(graceful: false);
        await c.Events.WaitAsync<DisconnectedEventArgs>();
        await _broker.StartAsync();
        var again = await c.Events.WaitCountAsync<ConnectedEventArgs>(2);
        Assert.False(again[1].SessionPresent);

        // The resubscribe was queued before Connected was raised, so this PUBLISH comes after it.
        await c.Client.PublishAsync(topic, "after restart", MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        var data = await c.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic);
        Assert.Equal("after restart", data.Message.PayloadText);
        Assert.Single(c.Events.All<SubscribedEventArgs>()); // the automatic resubscribe raises no event
    }
}
