namespace Tern.Broker.Persistence;

/// <summary>
/// One group commit: every change the broker made since the last batch, coalesced (a message
/// delivered and acknowledged between two batches is never written). A store applies it in this
/// order: sessions deleted (with all they hold), sessions, subscriptions, messages inserted,
/// deliveries, incoming QoS 2 ids, retained messages, bans, messages deleted.
/// </summary>
public sealed class StoreBatch
{
    /// <summary>Client ids whose session ended: delete it with its subscriptions, deliveries and incoming ids.</summary>
    public List<string> SessionsDeleted { get; } = [];

    /// <summary>Sessions inserted or replaced.</summary>
    public List<StoredSession> Sessions { get; } = [];

    public List<StoredSubscription> Subscriptions { get; } = [];

    public List<(string ClientId, string Filter)> SubscriptionsDeleted { get; } = [];

    /// <summary>Messages referenced for the first time.</summary>
    public List<StoredMessage> MessagesInserted { get; } = [];

    /// <summary>Deliveries inserted or replaced (a packet id assigned, PUBREL sent).</summary>
    public List<StoredDelivery> Deliveries { get; } = [];

    public List<(string ClientId, long Sequence)> DeliveriesDeleted { get; } = [];

    public List<(string ClientId, ushort PacketId)> IncomingQoS2 { get; } = [];

    public List<(string ClientId, ushort PacketId)> IncomingQoS2Deleted { get; } = [];

    /// <summary>Retained messages set or replaced: topic and message id.</summary>
    public List<(string Topic, long MessageId)> Retained { get; } = [];

    public List<string> RetainedDeleted { get; } = [];

    /// <summary>Bans added or replaced at run time.</summary>
    public List<Ban> Bans { get; } = [];

    public List<(BanKind Kind, string Value)> BansDeleted { get; } = [];

    /// <summary>Messages no session and no retained entry references any more.</summary>
    public List<long> MessagesDeleted { get; } = [];

    /// <summary>Wall-clock time of the batch.</summary>
    public long WrittenUnixMs { get; set; }

    /// <summary>Changes in the batch (its rows), for statistics.</summary>
    public int Count => SessionsDeleted.Count + Sessions.Count + Subscriptions.Count + SubscriptionsDeleted.Count
        + MessagesInserted.Count + Deliveries.Count + DeliveriesDeleted.Count + IncomingQoS2.Count + IncomingQoS2Deleted.Count
        + Retained.Count + RetainedDeleted.Count + Bans.Count + BansDeleted.Count + MessagesDeleted.Count;

    public void Clear()
    {
        SessionsDeleted.Clear();
        Sessions.Clear();
        Subscriptions.Clear();
        SubscriptionsDeleted.Clear();
        MessagesInserted.Clear();
        Deliveries.Clear();
        DeliveriesDeleted.Clear();
        IncomingQoS2.Clear();
        IncomingQoS2Deleted.Clear();
        Retained.Clear();
        RetainedDeleted.Clear();
        Bans.Clear();
        BansDeleted.Clear();
        MessagesDeleted.Clear();
    }
}
