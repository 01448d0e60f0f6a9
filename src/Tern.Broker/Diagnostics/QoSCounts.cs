using System.Runtime.CompilerServices;

namespace Tern.Broker;

/// <summary>
/// One count per QoS level (indexed by the level, 0 to 2), kept inline in its owner: a connection
/// counts its PUBLISH packets by QoS without an allocation or a shared cache line.
/// </summary>
[InlineArray(Length)]
internal struct QoSCounts
{
    /// <summary>The number of QoS levels.</summary>
    public const int Length = 3;

    private long _element;
}
