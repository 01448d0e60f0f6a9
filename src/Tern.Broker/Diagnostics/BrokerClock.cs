namespace Tern.Broker;

/// <summary>
/// The broker's one monotonic clock, in milliseconds, read from its <see cref="TimeProvider"/> so that
/// tests drive keep alive, expiry and will delay with a fake provider instead of sleeping.
/// </summary>
internal static class BrokerClock
{
    public static long Milliseconds(TimeProvider time)
    {
        var frequency = time.TimestampFrequency;

        // Divide first: timestamp × 1000 overflows after ~106 days of a nanosecond timestamp.
        return frequency >= 1000 ? time.GetTimestamp() / (frequency / 1000) : time.GetTimestamp() * 1000 / frequency;
    }
}
