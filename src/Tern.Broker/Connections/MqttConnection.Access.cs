using System.Net;
using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    // Answers of the authorizer for this client, by topic; dropped when the rules change.
    private const int MaxCachedPublishDecisions = 256;

    private ClientIdentity? _identity;
    private Dictionary<string, bool>? _publishDecisions;
    private long _decisionsGeneration;

    private ClientIdentity CreateIdentity(string? username, IReadOnlyList<AccessRule>? rules)
        => new(ClientId, username, (_info.RemoteEndPoint as IPEndPoint)?.Address, _info.Listener, rules);

    /// <summary>May this client publish to <paramref name="topic"/>? Cached per topic.</summary>
    private bool MayPublish(string topic)
    {
        if (_broker.Authorizer is not { } authorizer || _identity is null)
        {
            return true;
        }

        var generation = authorizer.Generation;
        if (_publishDecisions is null || _decisionsGeneration != generation || _publishDecisions.Count >= MaxCachedPublishDecisions)
        {
            _publishDecisions ??= new Dictionary<string, bool>(StringComparer.Ordinal);
            _publishDecisions.Clear();
            _decisionsGeneration = generation;
        }

        if (!_publishDecisions.TryGetValue(topic, out var allowed))
        {
            allowed = authorizer.CanPublish(_identity, topic);
            _publishDecisions[topic] = allowed;
        }

        return allowed;
    }

    private bool MaySubscribe(string filter)
        => _broker.Authorizer is not { } authorizer || _identity is null || authorizer.CanSubscribe(_identity, filter);
}
