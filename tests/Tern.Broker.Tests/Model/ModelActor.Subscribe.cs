using Tern.Protocol;

namespace Tern.Broker.Tests.Model;

/// <summary>SUBSCRIBE and UNSUBSCRIBE: each recorded in the session's filter timeline before it is written.</summary>
internal sealed partial class ModelActor
{
    private string PickFilter() => Role == ActorRole.Shared ? SharedFilter! : ModelTopics.Filters[_rng.Next(ModelTopics.Filters.Length)];

    private async Task SubscribeAsync(ModelLink link, string? filter = null, int? qos = null)
    {
        filter ??= PickFilter();
        qos ??= Role == ActorRole.Shared ? SharedQoS() : _rng.Next(3);
        var request = Begin(link, filter, qos.Value, out var id);
        if (request is null)
        {
            return;
        }

        Trace($"subscribe #{link.Id} '{filter}' q{qos} id={id}", request.Change.Start);
        await link.Connection.SendAsync(new SubscribePacket
        {
            PacketId = id,
            Subscriptions = [new TopicSubscription(filter, new SubscriptionOptions((MqttQoS)qos.Value))],
        });
        if (!_subscribed.Contains(filter))
        {
            _subscribed.Add(filter);
        }

        if (!await WaitAsync(request.Answer.Task, link, ModelTimeouts.Reply))
        {
            NoAnswer(link, "SUBACK", id);
            return;
        }

        var ack = (SubAckPacket)request.Answer.Task.Result;
        if (ack.ReasonCodes.Count != 1 || ack.ReasonCodes[0] != qos)
        {
            Model.Violation($"{ClientId}: SUBSCRIBE '{filter}' q{qos} on #{link.Id} was answered with codes [{string.Join(",", ack.ReasonCodes.Select(c => $"0x{c:X2}"))}]");
        }
    }

    /// <summary>Shared members subscribe at QoS 1 or 2, so whichever member the broker picks, the message is owed.</summary>
    private int SharedQoS() => _rng.Next(1, 3);

    /// <summary>
    /// A shared member's connection ends (abort, DISCONNECT, takeover) only when the known failures
    /// are exercised: the broker then hands its unacknowledged messages on wrongly (docs/reliability.md).
    /// </summary>
    private bool MayDisconnect => Role == ActorRole.Plain || _context.Exercises(KnownFailures.SharedMemberReconnects);

    private async Task UnsubscribeAsync(ModelLink link)
    {
        var filter = _subscribed.Count > 0 && _rng.Next(5) > 0 ? _subscribed[_rng.Next(_subscribed.Count)] : PickFilter();
        var request = Begin(link, filter, -1, out var id);
        if (request is null)
        {
            return;
        }

        Trace($"unsubscribe #{link.Id} '{filter}' id={id}", request.Change.Start);
        await link.Connection.SendAsync(new UnsubscribePacket { PacketId = id, Filters = [filter] });
        _subscribed.Remove(filter);
        if (!await WaitAsync(request.Answer.Task, link, ModelTimeouts.Reply))
        {
            NoAnswer(link, "UNSUBACK", id);
            return;
        }

        CheckUnsubAck(link, request, (UnsubAckPacket)request.Answer.Task.Result);
    }

    /// <summary>MQTT 5 says whether the subscription existed; where the model knows, it must agree.</summary>
    private void CheckUnsubAck(ModelLink link, PendingRequest request, UnsubAckPacket ack)
    {
        if (link.Connection.Version != MqttProtocolVersion.V500 || ack.ReasonCodes.Count != 1)
        {
            return;
        }

        lock (Model.Sync)
        {
            var timeline = link.Epoch!.Timeline(request.Filter);
            var before = new FilterTimeline(request.Filter);
            before.Changes.AddRange(timeline.Changes.Where(c => !ReferenceEquals(c, request.Change)));
            var (min, max) = before.PossibleQoS(request.Change.Start, request.Change.End);
            var code = ack.ReasonCodes[0];
            if ((code == 0x11 && min >= 0) || (code == 0x00 && max < 0))
            {
                Model.Violation($"{ClientId}: UNSUBACK 0x{code:X2} for '{request.Filter}' on #{link.Id}, but the session {(min >= 0 ? "held" : "did not hold")} it: {timeline}");
            }
        }
    }

    /// <summary>Records a subscription change as started and registers its answer; null when the connection has no session yet.</summary>
    private PendingRequest? Begin(ModelLink link, string filter, int qos, out ushort id)
    {
        lock (Model.Sync)
        {
            id = 0;
            if (link.Epoch is not { } epoch)
            {
                return null;
            }

            id = NextPacketId(epoch, link);
            var change = new SubscriptionChange(Model.Next(), qos, link.Id);
            epoch.Timeline(filter).Changes.Add(change);
            var request = new PendingRequest(filter, change, new TaskCompletionSource<MqttPacket>(TaskCreationOptions.RunContinuationsAsynchronously));
            link.Requests[id] = request;
            return request;
        }
    }
}
