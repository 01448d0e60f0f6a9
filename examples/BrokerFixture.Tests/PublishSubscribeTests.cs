using System.Text;
using Tern.Client;
using Tern.Protocol;

namespace BrokerFixture.Tests;

public sealed class PublishSubscribeTests(BrokerFixture broker) : IClassFixture<BrokerFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Subscriber_receives_what_a_publisher_sends()
    {
        await using var subscriber = await ConnectAsync("subscriber");
        await using var publisher = await ConnectAsync("publisher");
        var messages = subscriber.ReadMessagesAsync();
        await subscriber.SubscribeAsync("sensors/#", MqttQoS.AtLeastOnce);

        await publisher.PublishAsync("sensors/kitchen", "21.5", MqttQoS.AtLeastOnce);

        var message = await FirstAsync(messages);
        Assert.Equal("sensors/kitchen", message.Topic);
        Assert.Equal("21.5", Encoding.UTF8.GetString(message.Payload.Span));
    }

    [Fact]
    public async Task Message_the_broker_itself_retains_reaches_a_later_subscriber()
    {
        // The code under test may publish through the broker directly, e.g. a service that owns it.
        broker.Server.Broker.Publish("config/interval", Encoding.UTF8.GetBytes("30"), MqttQoS.AtLeastOnce, retain: true);

        await using var device = await ConnectAsync("device");
        var messages = device.ReadMessagesAsync();
        await device.SubscribeAsync("config/#", MqttQoS.AtLeastOnce);

        var message = await FirstAsync(messages);
        Assert.Equal("config/interval", message.Topic);
        Assert.True(message.Retain);
        Assert.Equal("30", Encoding.UTF8.GetString(message.Payload.Span));
    }

    /// <summary>A started client, returned once the broker has accepted it.</summary>
    private async Task<MqttClient> ConnectAsync(string clientId)
    {
        var client = new MqttClient(new MqttClientOptions { Uri = broker.Uri, ClientId = clientId });
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, _) => connected.TrySetResult();
        client.Error += (_, e) => connected.TrySetException(new InvalidOperationException($"{e.ErrorType}: {e.Message}"));
        await client.StartAsync();
        await connected.Task.WaitAsync(Timeout);
        return client;
    }

    private static async Task<MqttMessage> FirstAsync(IAsyncEnumerable<MqttMessage> messages)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await foreach (var message in messages.WithCancellation(timeout.Token))
        {
            return message;
        }

        throw new InvalidOperationException("The client stopped before a message came.");
    }
}
