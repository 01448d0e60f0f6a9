using Tern.Protocol;

namespace Tern.TestKit;

/// <summary>Checks that a broker still serves everyone else after one connection misbehaved.</summary>
public static class BrokerHealth
{
    /// <summary>
    /// Every given (already connected) client still gets PINGRESP, and a brand-new client can
    /// connect, subscribe and receive its own QoS 1 message.
    /// </summary>
    public static async Task AssertServesAsync(TestBroker broker, params RawMqttClient[] existing)
    {
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(existing);
        foreach (var client in existing)
        {
            await client.PingAsync().ConfigureAwait(false);
        }

        await using var probe = await broker.ConnectAsync(TestIds.Client("health")).ConfigureAwait(false);
        var topic = TestIds.Topic("health");
        await probe.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce).ConfigureAwait(false);
        await probe.PublishAsync(topic, "alive", MqttQoS.AtLeastOnce).ConfigureAwait(false);
        var echo = await probe.ReceivePublishAsync().ConfigureAwait(false);
        if (echo.Topic != topic || echo.PayloadText() != "alive")
        {
            throw new MqttTestException($"health probe received {RawMqttClient.Describe(echo)}", probe);
        }
    }
}
