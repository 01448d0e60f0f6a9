using Tern.Protocol;

namespace Tern.Broker;

/// <summary>One filter a session subscribed to, with its options.</summary>
internal sealed record Subscription(MqttSession Session, string Filter, SubscriptionOptions Options, uint? SubscriptionIdentifier);

/// <summary>
/// A session a topic is delivered to: overlapping subscriptions of one session collapse into one
/// target at the highest granted QoS [MQTT-3.3.5-1].
/// </summary>
internal readonly record struct RouteTarget(MqttSession Session, MqttQoS QoS, bool NoLocal, bool RetainAsPublished, uint[]? SubscriptionIdentifiers);
