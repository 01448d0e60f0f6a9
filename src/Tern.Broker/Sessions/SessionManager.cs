using System.Collections.Concurrent;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Sessions by client id: creation, resumption, takeover, expiry and delayed wills. Its lock is
/// taken on CONNECT, disconnect and by the timer, never on the publish path.
/// </summary>
internal sealed class SessionManager
{
    private readonly Lock _sync = new();
    private readonly ConcurrentDictionary<string, MqttSession> _sessions = new(StringComparer.Ordinal);
    private readonly MqttBroker _broker;

    public SessionManager(MqttBroker broker) => _broker = broker;

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
                    EndLocked(session);
                    session = null;
                }
                else
                {
                    // A new connection to the session before the will delay passed: no will [MQTT-3.1.3-9].
                    session.PendingWill = null;
                }
            }

            sessionPresent = session is not null;
            if (session is null)
            {
                session = new MqttSession(clientId, _broker.Options, _broker.Statistics);
                _sessions[clientId] = session;
            }

            session.ExpiryInterval = expiryInterval;
            session.Owner = connection;
            return session;
        }
    }

    /// <summary>
    /// The connection went away: end the session or keep it for its expiry interval, and publish
    /// the will now, later (MQTT 5 will delay) or not at all.
    /// </summary>
    public void Disconnected(MqttSession session, MqttConnection connection, WillMessage? will)
    {
        lock (_sync)
        {
            session.Detach(connection);
            var delay = will?.Properties?.WillDelayInterval ?? 0;
            if (session.Ended)
            {
                // The session ended under it (clean start takeover): the will goes out at session end.
                Publish(will, session);
                return;
            }

            if (!ReferenceEquals(session.Owner, connection))
            {
                // Taken over by a connection that resumed the session: a delayed will is cancelled.
                if (delay == 0)
                {
                    Publish(will, session);
                }

                return;
            }

            session.Owner = null;
            session.DisconnectedAt = Environment.TickCount64;
            if (session.ExpiryInterval == 0)
            {
                EndLocked(session);
                Publish(will, session);
            }
            else if (delay == 0)
            {
                Publish(will, session);
            }
            else
            {
                session.PendingWill = will;
                session.PendingWillDue = session.DisconnectedAt + (delay * 1000L);
            }
        }
    }

    /// <summary>Publishes due delayed wills and ends offline sessions whose expiry interval has passed.</summary>
    public void OnTimer(long now)
    {
        // In place, not a copy of every session per tick (Values snapshots).
        foreach (var (_, session) in _sessions)
        {
            if (session.Owner is not null)
            {
                continue;
            }

            var willDue = session.PendingWill is not null && now >= session.PendingWillDue;
            var expired = session.ExpiryInterval != MqttSession.NeverExpires && now - session.DisconnectedAt >= session.ExpiryInterval * 1000L;
            if (!willDue && !expired)
            {
                continue;
            }

            lock (_sync)
            {
                if (session.Owner is not null)
                {
                    continue;
                }

                if (expired)
                {
                    EndLocked(session);
                }
                else if (session.PendingWill is { } will)
                {
                    session.PendingWill = null;
                    Publish(will, session);
                }
            }
        }
    }

    /// <summary>Every session, enumerated in place (Values would copy them all).</summary>
    public IEnumerable<MqttSession> All
    {
        get
        {
            foreach (var (_, session) in _sessions)
            {
                yield return session;
            }
        }
    }

    /// <summary>Ends the session of <paramref name="clientId"/> if no connection owns it (an administrator's discard).</summary>
    /// <returns>false when there is no such session or a connection owns it.</returns>
    public bool Discard(string clientId)
    {
        lock (_sync)
        {
            if (!_sessions.TryGetValue(clientId, out var session) || session.Owner is not null)
            {
                return false;
            }

            EndLocked(session);
            return true;
        }
    }

    private void EndLocked(MqttSession session)
    {
        session.End(_broker.Index);
        _sessions.TryRemove(new KeyValuePair<string, MqttSession>(session.ClientId, session));
        if (session.PendingWill is { } will)
        {
            session.PendingWill = null;
            Publish(will, session);
        }
    }

    private void Publish(WillMessage? will, MqttSession session)
    {
        if (will is not null)
        {
            _broker.PublishWill(will, session.ClientId, session.Identity);
        }
    }
}
