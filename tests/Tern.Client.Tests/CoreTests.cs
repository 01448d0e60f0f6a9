using System.Text;
using Tern.Protocol;

namespace Tern.Client.Tests;

public sealed class CoreTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly string _uri = fixture.Broker.Uri;

    [Fact]
    public async Task Start_raises_BeforeConnect_then_Connected_and_state_is_Connected()
    {
        await using var c = await TestClient.ConnectAsync(_uri);
        var before = await c.Events.WaitAsync<BeforeConnectEventArgs>();
        var connected = await c.Events.WaitAsync<ConnectedEventArgs>();
        Assert.False(connected.SessionPresent);
        Assert.Same(c.Client, before.Client);
        Assert.Equal(MqttClientState.Connected, c.Client.State);
    }

    [Theory]
    [InlineData(MqttQoS.AtMostOnce)]
    [InlineData(MqttQoS.AtLeastOnce)]
    [InlineData(MqttQoS.ExactlyOnce)]
    public async Task Publish_and_receive_at_each_qos(MqttQoS qos)
    {
        string topic = TestClient.UniqueTopic();
        await using var c = await TestClient.ConnectAsync(_uri);
        var sub = await c.SubscribeAsync(topic, qos);
        Assert.Equal([(byte)qos], sub.ReasonCodes);

        int id = c.Client.Publish(topic, "hello", qos);
        if (qos == MqttQoS.AtMostOnce)
        {
            Assert.Equal(0, id);
        }
        else
        {
            Assert.True(id > 0);
            var published = await c.Events.WaitAsync<PublishedEventArgs>(e => e.MessageId == id);
            Assert.Equal(ReasonCode.Success, published.ReasonCode);
        }

        var data = await c.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic);
        Assert.Equal("hello", Encoding.UTF8.GetString(data.Payload.Span));
        Assert.Equal(qos, data.QoS);
        Assert.Equal(5, data.TotalDataLength);
        Assert.Equal(0, data.CurrentDataOffset);
        Assert.False(data.Retain);
        Assert.Equal(qos == MqttQoS.AtMostOnce, data.MessageId == 0);
    }

    [Fact]
    public async Task PublishAsync_completes_on_ack_and_Published_is_raised_only_for_qos_1_and_2()
    {
        string topic = TestClient.UniqueTopic();
        await using var c = await TestClient.ConnectAsync(_uri);
        var r0 = await c.Client.PublishAsync(topic, "a", MqttQoS.AtMostOnce).WaitAsync(EventLog.Timeout);
        var r1 = await c.Client.PublishAsync(topic, "b", MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        var r2 = await c.Client.PublishAsync(topic, "c", MqttQoS.ExactlyOnce).WaitAsync(EventLog.Timeout);
        Assert.Equal(0, r0.MessageId);
        Assert.True(r1.IsSuccess && r1.MessageId > 0);
        Assert.True(r2.IsSuccess && r2.MessageId > 0);
        await c.Events.WaitAsync<PublishedEventArgs>(e => e.MessageId == r2.MessageId);
        Assert.DoesNotContain(c.Events.All<PublishedEventArgs>(), e => e.MessageId == 0);
        Assert.Equal(0, c.Client.OutboxCount);
    }

    [Fact]
    public async Task Messages_flow_between_two_clients_at_every_qos_combination()
    {
        string topic = TestClient.UniqueTopic();
        await using var sub = await TestClient.ConnectAsync(_uri);
        await using var pub = await TestClient.ConnectAsync(_uri);
        await sub.SubscribeAsync(topic + "/#", MqttQoS.ExactlyOnce);
        foreach (MqttQoS qos in new[] { MqttQoS.AtMostOnce, MqttQoS.AtLeastOnce, MqttQoS.ExactlyOnce })
        {
            await pub.Client.PublishAsync($"{topic}/{(int)qos}", $"m{(int)qos}", qos).WaitAsync(EventLog.Timeout);
            var data = await sub.Events.WaitAsync<DataEventArgs>(e => e.Topic == $"{topic}/{(int)qos}");
            Assert.Equal(qos, data.QoS);
            Assert.Equal($"m{(int)qos}", data.Message.PayloadText);
        }
    }

    [Fact]
    public async Task Subscribe_returns_msg_id_and_granted_qos_then_Unsubscribe_stops_delivery()
    {
        string topic = TestClient.UniqueTopic();
        await using var c = await TestClient.ConnectAsync(_uri);
        int id = c.Client.Subscribe([(topic + "/a", MqttQoS.AtLeastOnce), (topic + "/b", MqttQoS.ExactlyOnce)]);
        Assert.True(id > 0);
        var subscribed = await c.Events.WaitAsync<SubscribedEventArgs>(e => e.MessageId == id);
        Assert.Equal([(byte)1, (byte)2], subscribed.ReasonCodes);

        int unsubId = c.Client.Unsubscribe(topic + "/a");
        await c.Events.WaitAsync<UnsubscribedEventArgs>(e => e.MessageId == unsubId);
        var result = await c.Client.UnsubscribeAsync(topic + "/b").WaitAsync(EventLog.Timeout);
        Assert.True(result.MessageId > 0);

        await c.Client.PublishAsync(topic + "/a", "x", MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        await c.SubscribeAsync(topic + "/c", MqttQoS.AtLeastOnce);
        await c.Client.PublishAsync(topic + "/c", "marker", MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        await c.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic + "/c");
        Assert.DoesNotContain(c.Events.All<DataEventArgs>(), e => e.Topic == topic + "/a");
    }

    [Fact]
    public async Task Calls_that_need_a_connection_return_minus_one_while_disconnected()
    {
        await using var c = TestClient.For(_uri);
        Assert.Equal(MqttClientState.NotStarted, c.Client.State);
        Assert.Equal(-1, c.Client.Publish("a/b", "x", MqttQoS.AtMostOnce));
        Assert.Equal(-1, c.Client.Subscribe("a/b", MqttQoS.AtLeastOnce));
        Assert.Equal(-1, c.Client.Unsubscribe("a/b"));
        await Assert.ThrowsAsync<MqttClientException>(() => c.Client.SubscribeAsync("a/b"));
        Assert.Throws<ArgumentException>(() => c.Client.Publish("a/+", "x"));
        Assert.Throws<ArgumentException>(() => c.Client.Subscribe("a/#/b"));
    }

    [Fact]
    public async Task Enqueue_while_offline_is_delivered_after_connect()
    {
        string topic = TestClient.UniqueTopic();
        await using var sub = await TestClient.ConnectAsync(_uri);
        await sub.SubscribeAsync(topic + "/#", MqttQoS.ExactlyOnce);

        await using var pub = TestClient.For(_uri);
        int id1 = pub.Client.Enqueue(topic + "/1", "one", MqttQoS.AtLeastOnce, retain: false, store: false);
        int id0 = pub.Client.Enqueue(topic + "/0", "zero", MqttQoS.AtMostOnce, retain: false, store: true);
        int id2 = pub.Client.Publish(topic + "/2", "two", MqttQoS.ExactlyOnce);
        Assert.True(id1 > 0 && id2 > 0 && id1 != id2);
        Assert.Equal(0, id0);
        Assert.Equal(3, pub.Client.OutboxCount);

        await pub.Client.StartAsync();
        await sub.Events.WaitCountAsync<DataEventArgs>(3, e => e.Topic!.StartsWith(topic, StringComparison.Ordinal));
        await pub.Events.WaitAsync<PublishedEventArgs>(e => e.MessageId == id2);
        await pub.Events.WaitAsync<PublishedEventArgs>(e => e.MessageId == id1);
        Assert.Equal(0, pub.Client.OutboxCount);
        Assert.Equal(["one", "two", "zero"], sub.Events.All<DataEventArgs>().Where(e => e.Topic!.StartsWith(topic, StringComparison.Ordinal))
            .Select(e => e.Message.PayloadText).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Large_payload_arrives_as_BufferSize_chunks_with_offsets_and_total()
    {
        string topic = TestClient.UniqueTopic();
        await using var c = await TestClient.ConnectAsync(_uri, o => o.BufferSize = 1024);
        await c.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        byte[] payload = new byte[10_000];
        Random.Shared.NextBytes(payload);

        await c.Client.PublishAsync(topic, payload, MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        var chunks = await c.Events.WaitCountAsync<DataEventArgs>(10, e => e.Message.Topic == topic);

        Assert.Equal(10, chunks.Count);
        Assert.Equal(topic, chunks[0].Topic);
        Assert.All(chunks.Skip(1), e => Assert.Null(e.Topic));
        Assert.All(chunks, e => Assert.Equal(10_000, e.TotalDataLength));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i * 1024), chunks.Select(e => e.CurrentDataOffset));
        Assert.Equal(10_000 - (9 * 1024), chunks[^1].Payload.Length);
        Assert.Equal(payload, chunks.SelectMany(e => e.Payload.ToArray()).ToArray());
    }

    [Fact]
    public async Task Disconnect_raises_Disconnected_and_Reconnect_connects_again()
    {
        await using var c = await TestClient.ConnectAsync(_uri);
        await c.Client.DisconnectAsync().WaitAsync(EventLog.Timeout);
        var disconnected = await c.Events.WaitAsync<DisconnectedEventArgs>();
        Assert.True(disconnected.ClientInitiated);
        Assert.Equal(MqttClientState.Disconnected, c.Client.State);
        Assert.Empty(c.Events.All<MqttErrorEventArgs>());

        Assert.True(await c.Client.ReconnectAsync());
        await c.Events.WaitCountAsync<ConnectedEventArgs>(2);
        Assert.False(await c.Client.ReconnectAsync());
    }

    [Fact]
    public async Task Stop_raises_no_event_and_empties_the_outbox()
    {
        await using var c = await TestClient.ConnectAsync(_uri);
        await c.Client.StopAsync();
        Assert.Equal(MqttClientState.NotStarted, c.Client.State);
        int id = c.Client.Publish("a/b", "x", MqttQoS.AtLeastOnce);
        Assert.True(id > 0);
        Assert.Equal(1, c.Client.OutboxCount);
        await c.Client.StopAsync();
        await c.Client.StartAsync();
        await c.Events.WaitCountAsync<ConnectedEventArgs>(2);
        await c.Events.WaitAsync<PublishedEventArgs>(e => e.MessageId == id);
        await c.Client.StopAsync();
        Assert.Empty(c.Events.All<DisconnectedEventArgs>());
    }

    [Fact]
    public async Task Will_is_published_when_the_socket_dies()
    {
        string topic = TestClient.UniqueTopic("will");
        await using var watcher = await TestClient.ConnectAsync(_uri);
        await watcher.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        await using var device = await TestClient.ConnectAsync(_uri, o =>
        {
            o.LastWillTopic = topic;
            o.LastWillText = "offline";
            o.LastWillQoS = MqttQoS.AtLeastOnce;
            o.AutoReconnect = false;
        });

        device.Client.AbortTransportForTest();
        var will = await watcher.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic);
        Assert.Equal("offline", will.Message.PayloadText);
        var lost = await device.Events.WaitAsync<DisconnectedEventArgs>();
        Assert.False(lost.ClientInitiated);
    }

    [Fact]
    public async Task Outbox_overflow_rejects_with_minus_two_or_drops_oldest_with_Deleted()
    {
        await using var reject = TestClient.For(_uri, o => o.OutboxLimit = 2);
        Assert.True(reject.Client.Publish("a/1", "1", MqttQoS.AtLeastOnce) > 0);
        Assert.True(reject.Client.Publish("a/2", "2", MqttQoS.AtLeastOnce) > 0);
        Assert.Equal(-2, reject.Client.Publish("a/3", "3", MqttQoS.AtLeastOnce));
        await Assert.ThrowsAsync<MqttClientException>(() => reject.Client.PublishAsync("a/3", "3", MqttQoS.ExactlyOnce));

        await using var drop = TestClient.For(_uri, o => { o.OutboxLimit = 2; o.OutboxOverflow = OutboxOverflowPolicy.DropOldest; });
        int first = drop.Client.Publish("b/1", "1", MqttQoS.AtLeastOnce);
        drop.Client.Publish("b/2", "2", MqttQoS.AtLeastOnce);
        Assert.True(drop.Client.Publish("b/3", "3", MqttQoS.ExactlyOnce) > 0);
        var deleted = await drop.Events.WaitAsync<DeletedEventArgs>();
        Assert.Equal(first, deleted.MessageId);
        Assert.Equal("b/1", deleted.Topic);
        Assert.Equal(2, drop.Client.OutboxCount);
    }

    [Fact]
    public async Task Nothing_listening_gives_a_TcpTransport_Error_then_retries()
    {
        int port = MosquittoBroker.FreePort();
        await using var c = TestClient.For($"mqtt://127.0.0.1:{port}");
        await c.Client.StartAsync();
        var errors = await c.Events.WaitCountAsync<MqttErrorEventArgs>(2);
        Assert.All(errors, e => Assert.Equal(MqttErrorType.TcpTransport, e.ErrorType));
        Assert.Empty(c.Events.All<ConnectedEventArgs>());
        Assert.Equal(2, c.Events.All<BeforeConnectEventArgs>().Count >= 2 ? 2 : 0);
    }

    [Fact]
    public async Task ReadMessagesAsync_yields_whole_messages()
    {
        string topic = TestClient.UniqueTopic();
        await using var c = await TestClient.ConnectAsync(_uri, o => o.BufferSize = 16);
        var reader = c.Client.ReadMessagesAsync().GetAsyncEnumerator();
        await c.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        await c.Client.PublishAsync(topic, new string('x', 100), MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        Assert.True(await reader.MoveNextAsync().AsTask().WaitAsync(EventLog.Timeout));
        Assert.Equal(topic, reader.Current.Topic);
        Assert.Equal(100, reader.Current.Payload.Length);
        await reader.DisposeAsync();
    }

    [Fact]
    public async Task Handlers_may_publish_from_events()
    {
        string topic = TestClient.UniqueTopic();
        await using var c = TestClient.For(_uri);
        c.Client.Connected += (_, _) => c.Client.Subscribe(topic, MqttQoS.AtLeastOnce);
        c.Client.Subscribed += (_, e) => c.Client.Publish(topic, "from handler", MqttQoS.AtLeastOnce);
        await c.Client.StartAsync();
        var data = await c.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic);
        Assert.Equal("from handler", data.Message.PayloadText);
    }
}
