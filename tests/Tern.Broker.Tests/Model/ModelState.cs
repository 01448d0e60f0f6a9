using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Tern.Broker.Tests.Model;

/// <summary>
/// What the model knows: every message published, every session incarnation with its subscription
/// timelines and what it received, the connections that closed, the violations seen so far and a
/// trace of recent operations. One lock guards it all; the logical clock is lock-free.
/// </summary>
internal sealed class ModelState
{
    private long _clock;

    public Lock Sync { get; } = new();

    public Dictionary<MsgId, MessageRecord> Messages { get; } = [];

    public List<Epoch> Epochs { get; } = [];

    /// <summary>Connections whose socket closed during the run (by either side).</summary>
    public HashSet<int> ClosedConnections { get; } = [];

    public ModelTrace Trace { get; } = new(50000);

    public ConcurrentQueue<string> Violations { get; } = new();

    /// <summary>Pulsed on every delivery and acknowledgement, so the drain waits on events.</summary>
    public AsyncPulse Progress { get; } = new();

    /// <summary>The logical clock: every stamp is unique and later stamps were taken later.</summary>
    public long Next() => Interlocked.Increment(ref _clock);

    public void Violation(string text)
    {
        Violations.Enqueue(text);
        Trace.Add(Next(), "VIOLATION " + text);
    }

    public Epoch NewEpoch(ModelActor actor, bool persistent, long stamp)
    {
        lock (Sync)
        {
            var epoch = new Epoch(Epochs.Count + 1, actor, persistent);
            epoch.Note(stamp, persistent ? "session created (persistent)" : "session created (ends with its connection)");
            Epochs.Add(epoch);
            return epoch;
        }
    }
}

/// <summary>
/// One incarnation of a client id's session: from the CONNACK that said "session present 0" until
/// the broker must have ended it (a clean start, or the close of a non-persistent session's
/// connection). It holds the model's view (subscriptions, deliveries) and the client's own session
/// state, which MQTT says lives exactly as long: QoS 2 packet ids awaiting PUBREL, and the outbox of
/// unacknowledged publishes.
/// </summary>
internal sealed class Epoch(int id, ModelActor actor, bool persistent)
{
    public int Id { get; } = id;

    public ModelActor Actor { get; } = actor;

    public bool Persistent { get; set; } = persistent;

    /// <summary>The broker may have ended it from this stamp on; null while alive.</summary>
    public long? EndedFrom { get; private set; }

    /// <summary>The broker had certainly ended it by this stamp (<see cref="SubscriptionChange.Open"/> when the model cannot know).</summary>
    public long EndedBy { get; private set; } = SubscriptionChange.Open;

    public bool Alive => EndedFrom is null;

    public void End(long from, long by, string why)
    {
        EndedFrom = from;
        EndedBy = by;
        Note(by == SubscriptionChange.Open ? from : by, why);
    }

    public Dictionary<string, FilterTimeline> Filters { get; } = new(StringComparer.Ordinal);

    /// <summary>Application deliveries in arrival order.</summary>
    public List<DeliveryRecord> Deliveries { get; } = [];

    /// <summary>Messages delivered at least once as live (not retained) copies.</summary>
    public HashSet<MsgId> LiveReceived { get; } = [];

    /// <summary>Connects, closes and ends with their stamps, for failure reports.</summary>
    public List<string> History { get; } = [];

    /// <summary>QoS 2 packet ids received and not yet released, with the message each carried.</summary>
    public Dictionary<ushort, MsgId> AwaitingRelease { get; } = [];

    /// <summary>Packet ids of PUBLISHes we finished acknowledging (PUBACK, PUBCOMP), with the connection we did it on.</summary>
    public Dictionary<ushort, int> AckedOn { get; } = [];

    /// <summary>Our QoS 1/2 publishes not yet acknowledged, in the order they were first sent.</summary>
    public OrderedDictionary<ushort, Outgoing> Outbox { get; } = [];

    /// <summary>
    /// Connections of this incarnation that closed: the stamp of their CONNACK. The broker may
    /// notice a close well after we closed, so from its side such a connection was open from then
    /// until some unknown later moment.
    /// </summary>
    public List<long> ClosedConnectionsOpenedAt { get; } = [];

    /// <summary>Fence messages received (the drain's "everything before this has arrived" marker).</summary>
    public int FencesReceived { get; set; }

    public FilterTimeline Timeline(string filter)
    {
        if (!Filters.TryGetValue(filter, out var timeline))
        {
            timeline = new FilterTimeline(filter);
            Filters[filter] = timeline;
        }

        return timeline;
    }

    public void Note(long stamp, string text) => History.Add(string.Create(CultureInfo.InvariantCulture, $"@{stamp} {text}"));

    public override string ToString() => $"{Actor.ClientId} session #{Id}";

    public string Describe()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{this} ({(Persistent ? "persistent" : "not persistent")}, {(Alive ? "alive" : $"ended @{EndedFrom}..{(EndedBy == SubscriptionChange.Open ? "?" : EndedBy)}")})");
        foreach (var line in History)
        {
            text.AppendLine("    " + line);
        }

        foreach (var timeline in Filters.Values)
        {
            text.AppendLine("    " + timeline);
        }

        return text.ToString();
    }
}

/// <summary>One of our QoS 1/2 publishes waiting for PUBACK, or for PUBREC then PUBCOMP.</summary>
internal sealed class Outgoing(MessageRecord message)
{
    public MessageRecord Message { get; } = message;

    /// <summary>PUBREC arrived and PUBREL was sent: on a resumed session PUBREL is what is sent again.</summary>
    public bool Released { get; set; }

    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A ring of the last trace lines (operations, connects, closes, violations), each with its stamp.</summary>
internal sealed class ModelTrace(int capacity)
{
    private readonly Queue<(long Stamp, string Text)> _lines = new();

    public void Add(long stamp, string text)
    {
        lock (_lines)
        {
            if (_lines.Count == capacity)
            {
                _lines.Dequeue();
            }

            _lines.Enqueue((stamp, text));
        }
    }

    /// <summary>Every line kept, in stamp order.</summary>
    public string All() => Tail(capacity);

    /// <summary>The last <paramref name="count"/> lines in stamp order.</summary>
    public string Tail(int count)
    {
        lock (_lines)
        {
            var lines = _lines.OrderBy(l => l.Stamp).ToList();
            return string.Join(Environment.NewLine, lines.Skip(Math.Max(0, lines.Count - count)).Select(l => $"  @{l.Stamp} {l.Text}"));
        }
    }
}

/// <summary>Wakes every waiter on <see cref="Pulse"/>; a waiter that misses a pulse re-checks its condition after the next one or its timeout.</summary>
internal sealed class AsyncPulse
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A task that completes at the next pulse.</summary>
    public Task NextAsync() => Volatile.Read(ref _next).Task;

    public void Pulse() => Interlocked.Exchange(ref _next, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
