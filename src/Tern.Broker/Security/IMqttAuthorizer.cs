using System.Net;

namespace Tern.Broker;

/// <summary>
/// Access control for PUBLISH and SUBSCRIBE. Called on the publisher's read loop, so it must be
/// fast and must not block; the broker caches answers per connection and drops the cache when
/// <see cref="Generation"/> changes (rules reloaded).
/// </summary>
public interface IMqttAuthorizer
{
    /// <summary>Changes whenever the rules change.</summary>
    long Generation { get; }

    /// <summary>May <paramref name="client"/> publish to <paramref name="topic"/>?</summary>
    bool CanPublish(ClientIdentity client, string topic);

    /// <summary>May <paramref name="client"/> subscribe to <paramref name="filter"/> (a shared subscription's inner filter)?</summary>
    bool CanSubscribe(ClientIdentity client, string filter);
}

/// <summary>Who a connected client is, for access control.</summary>
/// <param name="ClientId">Client identifier.</param>
/// <param name="Username">Authenticated user name, if any.</param>
/// <param name="Address">Client IP address (after PROXY protocol), if known.</param>
/// <param name="Listener">Listener name.</param>
/// <param name="Rules">Per-client rules from the authenticator (e.g. JWT claims), checked first.</param>
public sealed record ClientIdentity(string ClientId, string? Username, IPAddress? Address, string Listener, IReadOnlyList<AccessRule>? Rules);

/// <summary>What a rule is about.</summary>
[Flags]
public enum AccessAction
{
    Publish = 1,
    Subscribe = 2,
    All = Publish | Subscribe,
}

/// <summary>
/// One access rule on a topic filter. The filter may contain <c>%u</c> (user name) and
/// <c>%c</c> (client id); a client without a user name never matches a <c>%u</c> rule.
/// </summary>
/// <param name="Allow">Allow or deny.</param>
/// <param name="Action">Publish, subscribe or both.</param>
/// <param name="TopicFilter">MQTT topic filter with optional placeholders.</param>
public sealed record AccessRule(bool Allow, AccessAction Action, string TopicFilter);
