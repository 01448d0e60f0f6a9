using Tern.Protocol;

namespace Tern.Client.Tests;

/// <summary><see cref="MqttClientOptions.BeforeAcknowledge"/>: a message is acknowledged only after the handler took it.</summary>
public sealed class BeforeAcknowledgeTests : IAsyncLifetime
{
    private readonly MosquittoBroker _broker = new();

    public Task InitializeAsync() => _broker.StartAsync();

    public Task DisposeAsync() => _broker.DisposeAsync().AsTask();

    [Theory]
    [InlineData(MqttQoS.AtLeastOnce)]
    [InlineData(MqttQoS.ExactlyOnce)]
    public async Task A_message_the_handler_refused_is_not_acknowledged_and_the_broker_sends_it_again(MqttQoS qos)
    {
        string topic = TestClient.UniqueTopic("ack");
        var calls = new List<(string Payload, bool Dup)>();
        await using var sub = await TestClient.ConnectAsync(_broker.Uri, o =>
        {
            o.ClientId = "sub-" + Guid.NewGuid().ToString("N");
            o.CleanSession = false;
            o.BeforeAcknowledge = message =>
            {
                lock (calls)
                {
                    calls.Add((message.PayloadText, message.Dup));
                    if (calls.Count == 1)
                    {
                        throw new InvalidOperationException("not taken this time");
                    }
                }
            };
        });
        await sub.SubscribeAsync(topic, qos);
        await using var pub = await TestClient.ConnectAsync(_broker.Uri);

        await pub.Client.PublishAsync(topic, "m1"u8.ToArray(), qos).WaitAsync(EventLog.Timeout);

        // The refusal closed the connection before PUBACK/PUBREC; the kept session sends it again.
        await sub.Events.WaitAsync<DisconnectedEventArgs>();
        var data = await sub.Events.WaitAsync<DataEventArgs>(e => e.Message.Topic == topic);
        Assert.Equal("m1", data.Message.PayloadText);
        lock (calls)
        {
            Assert.Equal([("m1", false), ("m1", true)], calls);
        }
    }
}
