using Tern.Protocol;

namespace Tern.Client;

/// <summary>A SUBSCRIBE or UNSUBSCRIBE waiting for its acknowledgement on the current connection.</summary>
internal sealed class PendingRequest
{
    public required ushort PacketId { get; init; }

    public IReadOnlyList<TopicSubscription>? Subscriptions { get; init; }

    public IReadOnlyList<string>? Filters { get; init; }

    /// <summary>An automatic resubscribe: no events, nobody awaits it.</summary>
    public bool Silent { get; init; }

    public TaskCompletionSource<SubscribeResult>? SubscribeCompletion { get; init; }

    public TaskCompletionSource<UnsubscribeResult>? UnsubscribeCompletion { get; init; }

    public void Fail(Exception error)
    {
        SubscribeCompletion?.TrySetException(error);
        UnsubscribeCompletion?.TrySetException(error);
    }
}
