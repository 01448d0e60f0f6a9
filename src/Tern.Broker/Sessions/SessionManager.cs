using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// Sessions by client id: creation, resumption, takeover, expiry and delayed wills. Its lock is
/// taken on CONNECT, disconnect and by the timer, never on the publish path. What these find to do
/// beyond bookkeeping (publishing wills, handing a leaving shared member's messages to the group)
/// runs after the lock is released, so a will's fan-out never holds up other clients' CONNECTs.
/// </summary>
internal sealed class SessionManager
{
    private readonly Lock _sync = new();
    private readonly ConcurrentDictionary<string, MqttSession> _sessions = new(StringComparer.Ordinal);
    private readonly MqttBroker _broker;

    public SessionManager(MqttBroker broker) => _broker = broker;

    public int Count => _sessions.Count;

    public bool TryGet(string clientId, out MqttSession? session) => _sessions.TryGetValue(clientId, out session);

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

    /// <summary>
    /// Gives <paramref name="connection"/> the session of <paramref name="clientId"/>: resumes a stored
    /// one unless <paramref name="cleanStart"/>, else starts a new one. A connection that owned it is
    /// returned so the caller can close it (takeover, [MQTT-3.1.4-2]). Ownership moves atomically:
    /// from here on only <paramref name="connection"/> can attach (see <see cref="MqttSession.Attach"/>).
    /// Null when a new session would exceed <see cref="BrokerOptions.MaxSessions"/>.
    /// </summary>
    public MqttSession? Connect(MqttConnection connection, string clientId, bool cleanStart, uint expiryInterval, ClientIdentity? identity, out bool sessionPresent, out MqttConnection? previous)
    {
        var store = _broker.Store;
        store?.Enter();
        try
        {
            var work = new Deferred();
            MqttSession? session;
            lock (_sync)
            {
                previous = null;
                if (_sessions.TryGetValue(clientId, out session) && session.IsPulled)
                {
                    // A bridge's session inside the broker: no client may resume or end it.
                    sessionPresent = false;
                    return null;
                }

                if (session is not null)
                {
                    // Expired but not yet swept by the timer: gone all the same, on the broker's one clock.
                    var expired = session.Owner is null && session.ExpiryInterval != MqttSession.NeverExpires
                        && _broker.NowMs - session.DisconnectedAt >= session.ExpiryInterval * 1000L;
                    previous = session.TransferOwner(connection);
                    if (cleanStart || expired || session.ExpiryInterval == 0)
                    {
                        EndLocked(session, ref work);
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
                    if (_broker.Options.MaxSessions > 0 && _sessions.Count >= _broker.Options.MaxSessions)
                    {
                        sessionPresent = false;
                        Run(work);
                        return null;
                    }

                    session = new MqttSession(clientId, _broker);
                    session.TransferOwner(connection);
                    _sessions[clientId] = session;
                }

                session.ExpiryInterval = expiryInterval;
                session.Identity = identity;
                if (!sessionPresent && expiryInterval > 0 && store is not null)
                {
                    // Only a session that outlives its connection is stored: a clean one costs no disk write.
                    session.StartStoring(store);
                }
                else
                {
                    session.RowChanged();
                }
            }

            Run(work);
            return session;
        }
        finally
        {
            store?.Exit();
        }
    }

    /// <summary>
    /// The connection went away: end the session or keep it for its expiry interval, and publish
    /// the will now, later (MQTT 5 will delay) or not at all. A session that another connection
    /// resumed meanwhile is left alone: its new owner resends what this one did not acknowledge.
    /// </summary>
    public void Disconnected(MqttSession session, MqttConnection connection, WillMessage? will)
    {
        var store = _broker.Store;
        store?.Enter();
        try
        {
            var work = new Deferred();
            lock (_sync)
            {
                var delay = will?.Properties?.WillDelayInterval ?? 0;
                if (session.Ended)
                {
                    // The session ended under it (clean start takeover): the will goes out at session end.
                    work.AddWill(will, session);
                }
                else if (!session.ReleaseOwner(connection, _broker.NowMs))
                {
                    // Taken over by a connection that resumed the session: a delayed will is cancelled.
                    if (delay == 0)
                    {
                        work.AddWill(will, session);
                    }
                }
                else if (session.ExpiryInterval == 0)
                {
                    EndLocked(session, ref work);
                    work.AddWill(will, session);
                }
                else
                {
                    // Offline, kept: the messages a shared member did not acknowledge go to another member.
                    work.AddShared(session, session.TakeSharedDeliveries());
                    if (delay == 0)
                    {
                        work.AddWill(will, session);
                    }
                    else
                    {
                        session.PendingWill = will;
                        session.PendingWillDue = session.DisconnectedAt + (delay * 1000L);
                        session.RowChanged();
                    }
                }
            }

            Run(work);
        }
        finally
        {
            store?.Exit();
        }
    }

    /// <summary>Whether <paramref name="clientId"/> names a session an in-process consumer owns.</summary>
    public bool IsPulled(string clientId) => _sessions.TryGetValue(clientId, out var session) && session.IsPulled;

    /// <summary>
    /// The stored session of an in-process consumer (<see cref="MqttBroker.OpenInProcessSession"/>):
    /// the one restored from the store, or a new one that never expires.
    /// </summary>
    /// <exception cref="InvalidOperationException">A client is connected with that client id.</exception>
    public MqttSession OpenPulled(string clientId, StoreWriter store)
    {
        store.Enter();
        try
        {
            var work = new Deferred();
            MqttSession? session;
            lock (_sync)
            {
                if (_sessions.TryGetValue(clientId, out session))
                {
                    if (session.Owner is not null || session.IsPulled)
                    {
                        throw new InvalidOperationException($"The session '{clientId}' is in use.");
                    }

                    if (!session.IsStored)
                    {
                        EndLocked(session, ref work);
                        session = null;
                    }
                }

                if (session is null)
                {
                    session = new MqttSession(clientId, _broker) { DisconnectedAt = _broker.NowMs };
                    _sessions[clientId] = session;
                    session.ExpiryInterval = MqttSession.NeverExpires;
                    session.StartStoring(store);
                }
                else if (session.ExpiryInterval != MqttSession.NeverExpires)
                {
                    session.ExpiryInterval = MqttSession.NeverExpires;
                    session.RowChanged();
                }
            }

            Run(work);
            return session;
        }
        finally
        {
            store.Exit();
        }
    }

    /// <summary>Restore: a stored session, offline, before any client connects.</summary>
    public void Restore(MqttSession session) => _sessions[session.ClientId] = session;

    /// <summary>Ends a session that is offline (or whose connection is gone), e.g. discarded by an operator.</summary>
    public bool Discard(string clientId)
    {
        var store = _broker.Store;
        store?.Enter();
        try
        {
            var work = new Deferred();
            bool ended = false;
            lock (_sync)
            {
                if (_sessions.TryGetValue(clientId, out var session) && session.Owner is null && !session.IsPulled)
                {
                    EndLocked(session, ref work);
                    ended = true;
                }
            }

            Run(work);
            return ended;
        }
        finally
        {
            store?.Exit();
        }
    }

    /// <summary>Publishes due delayed wills and ends offline sessions whose expiry interval has passed.</summary>
    public void OnTimer(long now)
    {
        var store = _broker.Store;
        store?.Enter();
        try
        {
            var work = new Deferred();

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
                    if (session.Owner is not null || session.Ended)
                    {
                        continue;
                    }

                    if (expired)
                    {
                        EndLocked(session, ref work);
                    }
                    else if (session.PendingWill is { } will)
                    {
                        session.PendingWill = null;
                        session.RowChanged();
                        work.AddWill(will, session);
                    }
                }
            }

            Run(work);
        }
        finally
        {
            store?.Exit();
        }
    }

    private void EndLocked(MqttSession session, ref Deferred work)
    {
        work.AddShared(session, session.End(_broker.Index));
        _sessions.TryRemove(new KeyValuePair<string, MqttSession>(session.ClientId, session));
        if (session.PendingWill is { } will)
        {
            session.PendingWill = null;
            work.AddWill(will, session);
        }
    }

    private void Run(Deferred work)
    {
        if (work.Shared is not null)
        {
            foreach (var (session, taken) in work.Shared)
            {
                _broker.HandOnShared(session, taken);
            }
        }

        if (work.Wills is not null)
        {
            foreach (var (will, session) in work.Wills)
            {
                try
                {
                    _broker.PublishWill(will, session.ClientId, session.Identity);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // An authorizer that throws must not cost the other wills (or the timer).
                    Log.WillFailed(_broker.ConnectionLogger, ex, session.ClientId);
                }
            }
        }
    }

    /// <summary>What was found under the lock to do after it.</summary>
    private struct Deferred
    {
        public List<(WillMessage Will, MqttSession Session)>? Wills;
        public List<(MqttSession Session, List<Delivery> Taken)>? Shared;

        public void AddWill(WillMessage? will, MqttSession session)
        {
            if (will is not null)
            {
                (Wills ??= []).Add((will, session));
            }
        }

        public void AddShared(MqttSession session, List<Delivery>? taken)
        {
            if (taken is { Count: > 0 })
            {
                (Shared ??= []).Add((session, taken));
            }
        }
    }
}
