using System.Collections.Concurrent;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Sessions by client id: creation, resumption, takeover and expiry. Its lock is taken on
/// CONNECT and disconnect only, never on the publish path.
/// </summary>
internal sealed class SessionManager
{
    private readonly Lock _sync = new();
    private readonly ConcurrentDictionary<string, MqttSession> _sessions = new(StringComparer.Ordinal);
    private readonly BrokerOptions _options;
    private readonly BrokerStatistics _statistics;
    private readonly SubscriptionIndex _index;

    public SessionManager(BrokerOptions options, BrokerStatistics statistics, SubscriptionIndex index)
    {
        _options = options;
        _statistics = statistics;
        _index = index;
    }

    public int Count => _sessions.Count;

    public bool TryGet(string clientId, out MqttSession? session) => _sessions.TryGetValue(clientId, out session);

    /// <summary>
    /// Gives <paramref name="connection"/> the session of <paramref name="clientId"/>: resumes a stored
    /// one unless <paramref name="cleanStart"/>, else starts a new one. A connection that owned it is
    /// returned so the caller can close it (takeover, [MQTT-3.1.4-2]).
    /// </summary>
    public MqttSession Connect(MqttConnection connection, string clientId, bool cleanStart, uint expiryInterval, out bool sessionPresent, out MqttConnection? previous)
    {
        lock (_sync)
        {
            previous = null;
            if (_sessions.TryGetValue(clientId, out var session))
            {
                previous = session.Owner;
                if (previous is not null)
                {
                    session.Detach(previous);
                }

                if (cleanStart || session.ExpiryInterval == 0)
                {
                    session.End(_index);
                    _sessions.TryRemove(clientId, out _);
                    session = null;
                }
            }

            sessionPresent = session is not null;
            if (session is null)
            {
                session = new MqttSession(clientId, _options, _statistics);
                _sessions[clientId] = session;
            }

            session.ExpiryInterval = expiryInterval;
            session.Owner = connection;
            return session;
        }
    }

    /// <summary>The owning connection went away: end the session or keep it for its expiry interval.</summary>
    public void Disconnected(MqttSession session, MqttConnection connection)
    {
        lock (_sync)
        {
            session.Detach(connection);
            if (!ReferenceEquals(session.Owner, connection))
            {
                return;
            }

            session.Owner = null;
            session.DisconnectedAt = Environment.TickCount64;
            if (session.ExpiryInterval == 0)
            {
                EndLocked(session);
            }
        }
    }

    /// <summary>Ends offline sessions whose expiry interval has passed.</summary>
    public void ExpireSessions(long now)
    {
        foreach (var session in _sessions.Values)
        {
            if (session.Owner is not null || session.ExpiryInterval == MqttSession.NeverExpires)
            {
                continue;
            }

            if (now - session.DisconnectedAt >= session.ExpiryInterval * 1000L)
            {
                lock (_sync)
                {
                    if (session.Owner is null)
                    {
                        EndLocked(session);
                    }
                }
            }
        }
    }

    public void ForEach(Action<MqttSession> action)
    {
        foreach (var session in _sessions.Values)
        {
            action(session);
        }
    }

    private void EndLocked(MqttSession session)
    {
        session.End(_index);
        _sessions.TryRemove(new KeyValuePair<string, MqttSession>(session.ClientId, session));
    }
}
