using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>Small helpers shared by the MQTT 5.0 tests.</summary>
internal static class Mqtt5Test
{
    /// <summary>Configuration overrides from key/value pairs, e.g. <c>("Broker:ReceiveMaximum", "2")</c>.</summary>
    public static Dictionary<string, string?> Settings(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.OrdinalIgnoreCase);

    /// <summary>Starts a broker with the given settings.</summary>
    public static Task<TestBroker> StartAsync(params (string Key, string Value)[] pairs) =>
        TestBroker.StartAsync(pairs.Length == 0 ? null : Settings(pairs));

    /// <summary>A v5 connection subscribed to <paramref name="filter"/> (granted as asked).</summary>
    public static async Task<RawMqttClient> SubscriberAsync(
        TestBroker broker,
        string filter,
        MqttQoS qos = MqttQoS.AtLeastOnce,
        MqttProperties? connect = null,
        string? clientId = null)
    {
        var client = await broker.ConnectV5Async(clientId ?? TestIds.Client("sub5"), connect);
        await client.SubscribeV5GrantedAsync(filter, qos);
        return client;
    }

    /// <summary>Requires a reason string on a broker DISCONNECT (request problem information defaults to 1).</summary>
    public static void AssertHasReasonString(DisconnectPacket disconnect, RawMqttClient client)
    {
        Assert.False(
            string.IsNullOrEmpty(disconnect.Properties?.ReasonString),
            $"DISCONNECT from the broker has no reason string: {Mqtt5Flows.Describe5(disconnect)}\n{client.Transcript}");
    }

    public static string Describe(MqttPacket packet) => Mqtt5Flows.Describe5(packet);
}
