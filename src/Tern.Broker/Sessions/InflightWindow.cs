namespace Tern.Broker;

/// <summary>
/// A session's outgoing in-flight messages by packet id, in the order they were first sent (the order
/// they are resent in after a reconnect [MQTT-4.6.0-1]). Lookup, append and removal are O(1): the
/// messages form a linked list of their own, so an acknowledgement in the middle of a large window
/// does not shift the rest (an ordered dictionary's removal is O(n)). Guarded by the session's lock.
/// </summary>
internal sealed class InflightWindow
{
    private readonly Dictionary<ushort, InflightMessage> _byId = [];
    private InflightMessage? _first;
    private InflightMessage? _last;

    public int Count => _byId.Count;

    public bool ContainsKey(ushort packetId) => _byId.ContainsKey(packetId);

    public bool TryGetValue(ushort packetId, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out InflightMessage message)
        => _byId.TryGetValue(packetId, out message);

    /// <summary>Appends <paramref name="message"/> under <paramref name="packetId"/>, which must be free.</summary>
    public void Add(ushort packetId, InflightMessage message)
    {
        _byId.Add(packetId, message);
        message.PacketId = packetId;
        message.Previous = _last;
        message.Next = null;
        if (_last is null)
        {
            _first = message;
        }
        else
        {
            _last.Next = message;
        }

        _last = message;
    }

    public bool Remove(ushort packetId) => Remove(packetId, out _);

    public bool Remove(ushort packetId, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out InflightMessage message)
    {
        if (!_byId.Remove(packetId, out message))
        {
            return false;
        }

        if (message.Previous is null)
        {
            _first = message.Next;
        }
        else
        {
            message.Previous.Next = message.Next;
        }

        if (message.Next is null)
        {
            _last = message.Previous;
        }
        else
        {
            message.Next.Previous = message.Previous;
        }

        message.Previous = null;
        message.Next = null;
        return true;
    }

    /// <summary>In the order of sending; the window must not change during the enumeration.</summary>
    public Enumerator GetEnumerator() => new(_first);

    /// <summary>Yields packet id and message, oldest first.</summary>
    public struct Enumerator(InflightMessage? first)
    {
        private InflightMessage? _next = first;
        private InflightMessage? _current;

        public readonly KeyValuePair<ushort, InflightMessage> Current => new(_current!.PacketId, _current);

        public bool MoveNext()
        {
            _current = _next;
            _next = _current?.Next;
            return _current is not null;
        }
    }
}
