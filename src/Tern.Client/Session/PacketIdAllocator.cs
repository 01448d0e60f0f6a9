namespace Tern.Client;

/// <summary>
/// Packet identifiers unique among everything in flight (outbox, SUBSCRIBE, UNSUBSCRIBE).
/// Incremental with wrap-around, skipping ids still in use. Not thread-safe: used under the client lock.
/// </summary>
internal sealed class PacketIdAllocator
{
    private readonly HashSet<ushort> _inUse = [];
    private ushort _next = (ushort)Random.Shared.Next(1, ushort.MaxValue);

    public int InUse => _inUse.Count;

    /// <summary>Returns a free id, or 0 when all 65535 are in use.</summary>
    public ushort Allocate()
    {
        if (_inUse.Count >= ushort.MaxValue)
        {
            return 0;
        }

        while (true)
        {
            ushort id = _next;
            _next = _next == ushort.MaxValue ? (ushort)1 : (ushort)(_next + 1);
            if (_inUse.Add(id))
            {
                return id;
            }
        }
    }

    public void Release(ushort id) => _inUse.Remove(id);

    public void Clear() => _inUse.Clear();
}
