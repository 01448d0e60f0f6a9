using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using Tern.Protocol;

namespace Tern.Broker.Persistence;

/// <summary>
/// Rebuilds the broker from its store at start, before any client connects: sessions (minus those
/// that expired while the broker was down: expiry counts in wall-clock time), their subscriptions
/// (the index), queued and in-flight messages, incoming QoS 2 ids, delayed wills (and the wills of
/// connections the stop ended) and retained messages. Message ids and reference counts carry over to the writer.
/// </summary>
internal static class StoreRestore
{
    private const int ProgressEvery = 100_000;

    public static void Run(MqttBroker broker, StoreWriter writer)
    {
        var logger = broker.LoggerFactory.CreateLogger("Tern.Broker.Store");
        var location = writer.Store.Location;
        var clock = Stopwatch.StartNew();
        StoredState state;
        try
        {
            state = writer.Store.Load();
        }
        catch (StoreException)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new StoreException($"Cannot read the store at {location}: {ex.Message}", ex);
        }

        var nowUnix = broker.Time.GetUtcNow().ToUnixTimeMilliseconds();
        var nowMs = broker.NowMs;
        long ToBrokerMs(long unixMs) => nowMs - (nowUnix - unixMs);

        var messages = new Dictionary<long, ApplicationMessage>(state.Messages.Count);
        long lastMessageId = 0;
        foreach (var stored in state.Messages)
        {
            var message = new ApplicationMessage(
                stored.Topic,
                stored.Payload,
                stored.QoS,
                stored.Retain,
                MqttPropertiesCodec.Decode(stored.Properties),
                stored.PublisherClientId,
                ToBrokerMs(stored.CreatedUnixMs))
            {
                StoreId = stored.Id,
                StoreHasRow = true,
            };
            messages[stored.Id] = message;
            lastMessageId = Math.Max(lastMessageId, stored.Id);
            Progress(logger, location, messages.Count, state.Messages.Count, "messages");
        }

        var sessions = new Dictionary<string, MqttSession>(StringComparer.Ordinal);
        var expired = new List<string>();
        var lastSeen = state.LastWrittenUnixMs ?? nowUnix;
        foreach (var stored in state.Sessions)
        {
            // Connected when the broker stopped without a word: gone since its last write, and its
            // will is due as for any lost connection (after its MQTT 5 delay).
            var disconnectedUnix = stored.DisconnectedUnixMs ?? lastSeen;
            var willDueUnix = stored.Will is not { } storedWill ? (long?)null
                : stored.WillDueUnixMs ?? disconnectedUnix + (MqttPropertiesCodec.Decode(storedWill.Properties)?.WillDelayInterval ?? 0) * 1000L;
            if ((stored.ExpiryInterval == 0
                || (stored.ExpiryInterval != MqttSession.NeverExpires && nowUnix - disconnectedUnix >= stored.ExpiryInterval * 1000L))
                && willDueUnix is null)
            {
                expired.Add(stored.ClientId);
                continue;
            }

            // An expired session with a will is restored all the same: the sweep after the restore
            // ends it and publishes the will, as the end of a session does.

            var session = new MqttSession(stored.ClientId, broker)
            {
                ExpiryInterval = stored.ExpiryInterval,
                DisconnectedAt = ToBrokerMs(disconnectedUnix),
                Identity = new ClientIdentity(
                    stored.ClientId,
                    stored.Username,
                    stored.Address is { } address && IPAddress.TryParse(address, out var ip) ? ip : null,
                    stored.Listener ?? "",
                    null),
            };
            if (stored.Will is { } will && willDueUnix is { } due)
            {
                session.PendingWill = new WillMessage
                {
                    Topic = will.Topic,
                    Payload = will.Payload,
                    QoS = will.QoS,
                    Retain = will.Retain,
                    Properties = MqttPropertiesCodec.Decode(will.Properties),
                };
                session.PendingWillDue = ToBrokerMs(due);
            }

            session.Restored(writer);
            session.StoreState = new StoredSessionState();
            sessions[stored.ClientId] = session;
            broker.Sessions.Restore(session);
        }

        var subscriptions = 0;
        foreach (var stored in state.Subscriptions)
        {
            if (sessions.TryGetValue(stored.ClientId, out var session))
            {
                session.RestoreSubscription(stored.Filter, stored.Options, stored.SubscriptionIdentifier);
                subscriptions++;
            }
        }

        var deliveries = 0;
        foreach (var stored in state.Deliveries)
        {
            if (!sessions.TryGetValue(stored.ClientId, out var session) || !messages.TryGetValue(stored.MessageId, out var message))
            {
                continue;
            }

            SharedGroup? group = null;
            if (stored.SharedFilter is { } shared && MqttTopic.TryParseSharedSubscription(shared, out var name, out var filter))
            {
                group = broker.Index.FindGroup(name, filter);
            }

            var delivery = new Delivery(message, stored.QoS, stored.Retain, stored.SubscriptionIdentifiers, group) { Sequence = stored.Sequence };
            session.RestoreDelivery(delivery, stored.PacketId, stored.Released);
            session.StoreState!.Deliveries[stored.Sequence] = message;
            message.StoreRefs++;
            deliveries++;
            Progress(logger, location, deliveries, state.Deliveries.Count, "queued messages");
        }

        foreach (var (clientId, packetId) in state.IncomingQoS2)
        {
            if (sessions.TryGetValue(clientId, out var session))
            {
                session.RestoreIncomingQoS2(packetId);
            }
        }

        var retained = 0;
        var overLimit = 0;
        var retainedGone = new List<string>();
        foreach (var (topic, id) in state.Retained)
        {
            if (!messages.TryGetValue(id, out var message) || message.IsExpired(nowMs))
            {
                retainedGone.Add(topic);
                continue;
            }

            if (!broker.Retained.Set(message))
            {
                // Broker:MaxRetainedMessages was lowered below what the store holds.
                overLimit++;
                retainedGone.Add(topic);
                broker.Dropped(DropReason.RetainedStoreFull, null);
                continue;
            }

            broker.Retained.Find(topic)!.Persisted = message;
            message.StoreRefs++;
            retained++;
            Progress(logger, location, retained, state.Retained.Count, "retained messages");
        }

        var bansGone = new List<(BanKind, string)>();
        foreach (var ban in state.Bans)
        {
            if (ban.Until is { } until && until.ToUnixTimeMilliseconds() <= nowUnix)
            {
                bansGone.Add((ban.Kind, ban.Value));
                continue;
            }

            broker.Bans.Add(ban);
        }

        // Whatever nothing restored references any more (its session expired, its retained entry
        // expired) is deleted by the writer's first batch.
        var unreferenced = new List<long>();
        foreach (var (id, message) in messages)
        {
            if (message.StoreRefs == 0)
            {
                message.StoreHasRow = false;
                unreferenced.Add(id);
            }
        }

        if (overLimit > 0)
        {
            Log.RetainedOverLimitAtRestore(logger, overLimit, broker.Options.MaxRetainedMessages);
        }

        writer.Restored(lastMessageId, expired, retainedGone, bansGone, unreferenced);
        Log.StoreRestored(logger, location, sessions.Count, subscriptions, deliveries, retained, expired.Count, clock.ElapsedMilliseconds);
    }

    private static void Progress(ILogger logger, string location, int done, int total, string what)
    {
        if (done % ProgressEvery == 0 && total > ProgressEvery)
        {
            Log.StoreRestoring(logger, location, done, total, what);
        }
    }
}
