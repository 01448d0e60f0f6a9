using Microsoft.Extensions.Logging;
using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// The session's queue bounds and the overload protection (docs/architecture.md, "Overload").
/// <para>
/// Offline, or online under <see cref="SlowSubscriberPolicy.Drop"/>: the queue holds
/// <c>MaxQueuedMessages</c> messages and <c>MaxQueuedBytes</c> bytes; beyond that
/// <c>QueueFullPolicy</c> drops the newest or the oldest, counted.
/// </para>
/// <para>
/// Online under <see cref="SlowSubscriberPolicy.SlowPublishers"/> (the default): past
/// <c>MaxQueuedMessages</c> (the high-water mark) the publishers whose QoS 1/2 messages land here are
/// asked to hold back their PUBACK/PUBREC; as clients send only a window of unacknowledged messages,
/// they stop. Under half the mark (the low-water mark) they are told to go on. Reads are never paused,
/// so a slowed client still gets its PINGRESPs and its own deliveries, and two clients publishing to
/// each other cannot deadlock. Messages are dropped only past <c>MaxQueuedMessagesOnline</c> or
/// <c>MaxQueuedBytes</c>, which only a client without a window reaches.
/// </para>
/// </summary>
internal sealed partial class MqttSession
{
    // Sum of the payload and topic sizes of the queued messages.
    private long _queuedBytes;

    // Publishers told to hold their acknowledgements until this queue is under the low-water mark.
    private HashSet<MqttConnection>? _waiters;

    // Per-reason counts of what this session was not given; allocated at the first drop.
    private long[]? _drops;
    private long _dropsSinceLog;
    private long _lastDropLog = long.MinValue;

    /// <summary>Messages not delivered to this session, every reason.</summary>
    public long DroppedTotal
    {
        get
        {
            var drops = Volatile.Read(ref _drops);
            long total = 0;
            if (drops is not null)
            {
                for (var i = 0; i < drops.Length; i++)
                {
                    total += Interlocked.Read(ref drops[i]);
                }
            }

            return total;
        }
    }

    /// <summary>Messages not delivered to this session for <paramref name="reason"/>.</summary>
    public long Dropped(DropReason reason) => Volatile.Read(ref _drops) is { } drops ? Interlocked.Read(ref drops[(int)reason]) : 0;

    /// <summary>Publishers currently holding acknowledgements for this session (tests, admin views).</summary>
    public int SlowedPublishers
    {
        get
        {
            lock (Sync)
            {
                return _waiters?.Count ?? 0;
            }
        }
    }

    /// <summary>Counts a message this session did not get; logs at most every 10 s per client, with the count since.</summary>
    internal void CountDrop(DropReason reason, long count, ILogger logger, long now)
    {
        var drops = Volatile.Read(ref _drops) ?? Interlocked.CompareExchange(ref _drops, new long[Enum.GetValues<DropReason>().Length], null) ?? _drops!;
        Interlocked.Add(ref drops[(int)reason], count);
        var pending = Interlocked.Add(ref _dropsSinceLog, count);
        var last = Interlocked.Read(ref _lastDropLog);
        if (now - last >= 10_000 && Interlocked.CompareExchange(ref _lastDropLog, now, last) == last)
        {
            Interlocked.Add(ref _dropsSinceLog, -pending);
            Log.MessagesDropped(logger, ClientId, pending, reason);
        }
    }

    private static long Size(in Delivery delivery) => delivery.Message.Payload.Length + delivery.Message.TopicUtf8.Length;

    /// <summary>Queues behind the in-flight window under the bounds; true when the publisher should hold its acknowledgement.</summary>
    private bool Enqueue(in Delivery delivery, bool online, MqttConnection? publisher)
    {
        var size = Size(delivery);
        var slowPublishers = online && _options.SlowSubscriberPolicy == SlowSubscriberPolicy.SlowPublishers;
        var countLimit = slowPublishers ? Math.Max(_options.MaxQueuedMessagesOnline, _options.MaxQueuedMessages) : _options.MaxQueuedMessages;
        if (QueueCount >= countLimit || _queuedBytes + size > _options.MaxQueuedBytes)
        {
            if (_options.QueueFullPolicy == QueueFullPolicy.DropNewest || QueueCount == 0)
            {
                _broker.Dropped(DropReason.QueueFull, this);
                publisher?.NoteQuotaDrop();
                return false;
            }

            // Drop the oldest to make room (Mosquitto's and EMQX's other choice): the freshest state wins.
            var oldest = _queue!.Dequeue();
            _queuedBytes -= Size(oldest);
            Record(SessionChange.Removed(oldest));
            _broker.Dropped(DropReason.QueueFull, this);
        }

        var queued = Sequenced(delivery);
        if (_store is not null)
        {
            Record(SessionChange.Added(queued, 0));
            publisher?.NoteStored();
        }

        (_queue ??= new()).Enqueue(queued);
        _queuedBytes += size;
        publisher?.NoteDelivered();
        if (slowPublishers && publisher is not null && delivery.Message.QoS != MqttQoS.AtMostOnce && QueueCount >= _options.MaxQueuedMessages)
        {
            // Registered under this session's lock, so a relief that follows cannot be missed.
            (_waiters ??= new(ReferenceEqualityComparer.Instance)).Add(publisher);
            publisher.HoldFor(this);
            return true;
        }

        return false;
    }

    /// <summary>Under the lock: the waiting publishers, once the queue is under the low-water mark.</summary>
    private List<MqttConnection>? TakeRelieved()
        => _waiters is { Count: > 0 } && QueueCount <= _options.MaxQueuedMessages / 2 ? TakeAllWaiters() : null;

    private List<MqttConnection>? TakeAllWaiters()
    {
        if (_waiters is not { Count: > 0 })
        {
            return null;
        }

        var relieved = new List<MqttConnection>(_waiters);
        _waiters.Clear();
        return relieved;
    }

    /// <summary>Outside the lock: tells each publisher this session no longer needs it to wait.</summary>
    private void Relieve(List<MqttConnection>? relieved)
    {
        if (relieved is null)
        {
            return;
        }

        foreach (var publisher in relieved)
        {
            publisher.Relieve(this);
        }
    }
}
