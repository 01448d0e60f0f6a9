namespace Tern.Broker;

/// <summary>
/// Broker engine settings, bound from the <c>Broker</c> configuration section.
/// Every key is listed in docs/configuration.md.
/// </summary>
public sealed class BrokerOptions
{
    public const string SectionName = "Broker";

    /// <summary>Unacknowledged QoS 1/2 PUBLISH packets towards one client at a time.</summary>
    public int MaxInflight { get; set; } = 32;

    /// <summary>QoS 1/2 messages held per session beyond the in-flight window (also while offline); more are dropped and counted.</summary>
    public int MaxQueuedMessages { get; set; } = 1000;

    /// <summary>QoS 0 messages buffered per connection for a slow reader; more are dropped and counted.</summary>
    public int MaxQueuedQoS0Messages { get; set; } = 1000;

    /// <summary>Largest packet accepted (and sent), in bytes, fixed header included.</summary>
    public int MaxPacketSize { get; set; } = 1024 * 1024;

    /// <summary>A connection that sends no CONNECT within this many seconds is closed.</summary>
    public double ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>Seconds between <c>$SYS/broker/...</c> updates; 0 turns them off.</summary>
    public double SysIntervalSeconds { get; set; } = 10;

    /// <summary>Queue QoS 0 messages for offline persistent sessions (Mosquitto's <c>queue_qos0_messages</c>).</summary>
    public bool QueueQoS0Messages { get; set; }

    /// <summary>Retained messages kept; a new retained topic beyond this is not stored.</summary>
    public int MaxRetainedMessages { get; set; } = 100_000;

    /// <summary>Checks option values; throws <see cref="ArgumentException"/> naming the key.</summary>
    public void Validate()
    {
        Require(MaxInflight is >= 1 and <= 65535, nameof(MaxInflight), "must be between 1 and 65535");
        Require(MaxQueuedMessages >= 0, nameof(MaxQueuedMessages), "must be 0 or more");
        Require(MaxQueuedQoS0Messages >= 1, nameof(MaxQueuedQoS0Messages), "must be 1 or more");
        Require(MaxPacketSize is >= 64 and <= 268_435_460, nameof(MaxPacketSize), "must be between 64 and 268435460 (256 MiB + header)");
        Require(ConnectTimeoutSeconds > 0, nameof(ConnectTimeoutSeconds), "must be more than 0");
        Require(SysIntervalSeconds >= 0, nameof(SysIntervalSeconds), "must be 0 (off) or more");
        Require(MaxRetainedMessages >= 0, nameof(MaxRetainedMessages), "must be 0 or more");
    }

    private static void Require(bool ok, string key, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"{SectionName}:{key} {rule}.", key);
        }
    }
}
