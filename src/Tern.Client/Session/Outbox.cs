namespace Tern.Client;

/// <summary>
/// Messages waiting to be sent or acknowledged, in order. QoS 1/2 stay until PUBACK/PUBCOMP and
/// survive reconnects; stored QoS 0 (Enqueue with store) leave once written.
/// Not thread-safe: used under the client lock.
/// </summary>
internal sealed class Outbox
{
    private readonly LinkedList<OutboxItem> _items = new();
    private readonly Dictionary<ushort, LinkedListNode<OutboxItem>> _byId = [];

    public int Count => _items.Count;

    public long Size { get; private set; }

    /// <summary>Items written and not yet fully acknowledged (bounded by the server's receive maximum).</summary>
    public int InFlight { get; private set; }

    public void Add(OutboxItem item)
    {
        var node = _items.AddLast(item);
        if (item.PacketId != 0)
        {
            _byId[item.PacketId] = node;
        }

        Size += item.Size;
    }

    public OutboxItem? Find(ushort packetId) => _byId.TryGetValue(packetId, out var node) ? node.Value : null;

    public OutboxItem? Oldest => _items.First?.Value;

    public void Remove(OutboxItem item)
    {
        if (item.PacketId != 0 && _byId.Remove(item.PacketId, out var node))
        {
            _items.Remove(node);
        }
        else
        {
            _items.Remove(item);
        }

        if (item.State is OutboxState.AwaitingAck or OutboxState.AwaitingComplete or OutboxState.ReleasePending)
        {
            InFlight--;
        }

        Size -= item.Size;
    }

    /// <summary>Marks an item written on the wire (counted in flight from its first send).</summary>
    public void MarkSent(OutboxItem item, OutboxState state)
    {
        if (item.State == OutboxState.Queued)
        {
            InFlight++;
        }

        item.State = state;
    }

    /// <summary>
    /// After a reconnect every unacknowledged message is sent again: PUBLISH with DUP, or PUBREL
    /// when PUBREC already came [MQTT-4.4.0-1].
    /// </summary>
    public void PrepareResend()
    {
        InFlight = 0;
        foreach (var item in _items)
        {
            item.State = item.State is OutboxState.ReleasePending or OutboxState.AwaitingComplete
                ? OutboxState.ReleasePending
                : OutboxState.Queued;
            if (item.State == OutboxState.ReleasePending)
            {
                InFlight++;
            }
        }
    }

    public LinkedList<OutboxItem>.Enumerator GetEnumerator() => _items.GetEnumerator();

    public List<OutboxItem> TakeAll()
    {
        var all = new List<OutboxItem>(_items);
        _items.Clear();
        _byId.Clear();
        Size = 0;
        InFlight = 0;
        return all;
    }
}
