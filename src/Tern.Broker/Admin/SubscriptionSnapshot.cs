using Tern.Protocol;

namespace Tern.Broker;

/// <summary>One subscription of one session, as <see cref="MqttBroker.GetSubscriptions"/> saw it.</summary>
/// <param name="ClientId">The subscriber's client id.</param>
/// <param name="Filter">The filter as subscribed (<c>$share/group/a/b</c> for a shared subscription).</param>
/// <param name="Options">Granted QoS and the MQTT 5 subscription options.</param>
/// <param name="Online">The subscriber is connected (a persistent session keeps its subscriptions offline).</param>
/// <param name="ShareGroup">The group of a shared subscription (<c>group</c> of <c>$share/group/a/b</c>), else null.</param>
/// <param name="SubscriptionIdentifier">The MQTT 5 subscription identifier the client gave, else null.</param>
public sealed record SubscriptionSnapshot(
    string ClientId,
    string Filter,
    SubscriptionOptions Options,
    bool Online,
    string? ShareGroup = null,
    uint? SubscriptionIdentifier = null);
