using System.Globalization;
using Tern.Protocol;

namespace Tern.Broker.Tests.Model;

/// <summary>A message's identity, carried in its payload as <c>publisher:seq</c>.</summary>
internal readonly record struct MsgId(int Publisher, int Seq)
{
    /// <summary>Publisher number of the fence messages the drain publishes (no actor has it).</summary>
    public const int FencePublisher = 0;

    public byte[] ToPayload() => System.Text.Encoding.ASCII.GetBytes(ToString());

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Publisher}:{Seq}");

    public static bool TryParse(ReadOnlySpan<byte> payload, out MsgId id)
    {
        id = default;
        var colon = payload.IndexOf((byte)':');
        if (colon <= 0
            || !int.TryParse(payload[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out var publisher)
            || !int.TryParse(payload[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
        {
            return false;
        }

        id = new MsgId(publisher, seq);
        return true;
    }
}

/// <summary>
/// A published message. Stamps come from <see cref="ModelState.Next"/>: the broker routed it after
/// <see cref="FirstSend"/> (taken before the bytes were written) and before <see cref="Acked"/>
/// (taken when PUBACK or PUBCOMP was decoded).
/// </summary>
internal sealed class MessageRecord(MsgId id, string topic, MqttQoS qos, bool retain, long firstSend)
{
    public MsgId Id { get; } = id;

    public string Topic { get; } = topic;

    public MqttQoS QoS { get; } = qos;

    public bool Retain { get; } = retain;

    public long FirstSend { get; } = firstSend;

    /// <summary>PUBLISH packets sent for it: more than one when a resumed session resent it (a QoS 1 message may then be routed twice).</summary>
    public int Sends { get; set; } = 1;

    /// <summary>Stamp taken before its last PUBLISH was written (the first, or a resend).</summary>
    public long LastSend { get; set; } = firstSend;

    /// <summary>Stamp of the acknowledgement; null while not acknowledged (never, for QoS 0).</summary>
    public long? Acked { get; set; }

    public override string ToString() =>
        $"message {Id} '{Topic}' q{(int)QoS}{(Retain ? " retained" : "")} sent@{FirstSend} acked@{(Acked is { } a ? a.ToString(CultureInfo.InvariantCulture) : "-")}";
}

/// <summary>
/// One SUBSCRIBE or UNSUBSCRIBE of a filter: it took effect somewhere between <see cref="Start"/>
/// (before the packet was written) and <see cref="End"/> (its SUBACK/UNSUBACK decoded). A change
/// whose answer never came (the connection was closed under it) stays open for ever: the broker may
/// apply it late, so it keeps the filter uncertain from then on.
/// </summary>
internal sealed class SubscriptionChange(long start, int qos, int connection)
{
    public const long Open = long.MaxValue;

    public long Start { get; } = start;

    public long End { get; set; } = Open;

    /// <summary>Granted QoS after the change; -1 for "not subscribed".</summary>
    public int QoS { get; } = qos;

    /// <summary>The connection the packet was written on.</summary>
    public int Connection { get; } = connection;

    public override string ToString() =>
        $"{(QoS < 0 ? "unsub" : "sub q" + QoS.ToString(CultureInfo.InvariantCulture))} [{Start}..{(End == Open ? "open" : End.ToString(CultureInfo.InvariantCulture))}]";
}

/// <summary>Every change of one filter in one session incarnation, in the order they were sent.</summary>
internal sealed class FilterTimeline(string filter)
{
    public string Filter { get; } = filter;

    /// <summary>The filter matched against topics (without <c>$share/{group}/</c>).</summary>
    public string TopicFilter { get; } = ModelTopics.TopicFilterOf(filter);

    public bool Shared => TopicFilter.Length != Filter.Length;

    public List<SubscriptionChange> Changes { get; } = [];

    /// <summary>
    /// The lowest and highest granted QoS the filter may have had at some moment of [from, to]
    /// (-1: not subscribed). The state before the window is the last change answered before it;
    /// every change that may have taken effect inside the window adds its state.
    /// </summary>
    public (int Min, int Max) PossibleQoS(long from, long to)
    {
        var baseQoS = -1;
        long baseEnd = -1;
        var min = int.MaxValue;
        var max = int.MinValue;
        foreach (var change in Changes)
        {
            if (change.End < from)
            {
                if (change.End > baseEnd)
                {
                    baseEnd = change.End;
                    baseQoS = change.QoS;
                }
            }
            else if (change.Start <= to)
            {
                min = Math.Min(min, change.QoS);
                max = Math.Max(max, change.QoS);
            }
        }

        return (Math.Min(min, baseQoS), Math.Max(max, baseQoS));
    }

    public override string ToString() => $"'{Filter}': {string.Join(", ", Changes)}";
}

/// <summary>A PUBLISH the model client handed to its application (QoS 2 duplicates by packet id are not).</summary>
internal readonly record struct DeliveryRecord(MsgId Message, long Stamp, MqttQoS QoS, bool Retain, bool Dup, int Connection, ushort PacketId)
{
    public override string ToString() =>
        $"{Message} q{(int)QoS}{(Retain ? " r" : "")}{(Dup ? " dup" : "")} id={PacketId} on #{Connection} @{Stamp}";
}
