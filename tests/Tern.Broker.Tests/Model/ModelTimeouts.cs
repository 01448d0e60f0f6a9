namespace Tern.Broker.Tests.Model;

/// <summary>
/// Upper bounds for the model's waits. A passing run never waits for them; they only decide how
/// long a failing run takes to say what is missing.
/// </summary>
internal static class ModelTimeouts
{
    /// <summary>A connection is opened, a CONNACK, SUBACK or UNSUBACK arrives.</summary>
    public static readonly TimeSpan Reply = TimeSpan.FromSeconds(10);

    /// <summary>The broker acknowledges a PUBLISH (PUBACK, or PUBCOMP after PUBREL).</summary>
    public static readonly TimeSpan Ack = TimeSpan.FromSeconds(10);

    /// <summary>A write to the socket completes.</summary>
    public static readonly TimeSpan Send = TimeSpan.FromSeconds(10);

    /// <summary>The broker closes a connection it must close (takeover, after DISCONNECT).</summary>
    public static readonly TimeSpan Close = TimeSpan.FromSeconds(5);

    /// <summary>Every owed delivery arrives once all sessions are back online.</summary>
    public static readonly TimeSpan Drain = TimeSpan.FromSeconds(20);

    /// <summary>A fence message is published again when it has not arrived within this (it may have been dropped).</summary>
    public static readonly TimeSpan FenceRetry = TimeSpan.FromSeconds(1);
}
