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

    /// <summary>
    /// QoS 1/2 messages held per session beyond the in-flight window. Offline (or under
    /// <see cref="SlowSubscriberPolicy.Drop"/>) more are dropped by <see cref="QueueFullPolicy"/> and
    /// counted; online, past it the publishers feeding the session are slowed (its high-water mark).
    /// </summary>
    public int MaxQueuedMessages { get; set; } = 1000;

    /// <summary>
    /// The hard bound of an online session's queue under <see cref="SlowSubscriberPolicy.SlowPublishers"/>:
    /// room for the windows of the publishers being slowed; only a client without a window gets past it.
    /// Never below <see cref="MaxQueuedMessages"/>.
    /// </summary>
    public int MaxQueuedMessagesOnline { get; set; } = 20_000;

    /// <summary>Bytes (payload and topic) held in one session's queue; more are dropped by <see cref="QueueFullPolicy"/> and counted.</summary>
    public long MaxQueuedBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>What a full queue drops: the message arriving (<c>DropNewest</c>) or the oldest queued (<c>DropOldest</c>).</summary>
    public QueueFullPolicy QueueFullPolicy { get; set; } = QueueFullPolicy.DropNewest;

    /// <summary>
    /// Longest a slowed publisher's acknowledgements are held; then they go out anyway (and the queue's
    /// hard bound applies). Bounds the wait of a client that will not read its own deliveries until
    /// its publish is acknowledged. 0 holds them as long as the subscriber is behind.
    /// </summary>
    public double MaxAckHoldSeconds { get; set; } = 5;

    /// <summary>What an online subscriber that falls behind costs: its publishers are slowed (default), or its messages dropped.</summary>
    public SlowSubscriberPolicy SlowSubscriberPolicy { get; set; } = SlowSubscriberPolicy.SlowPublishers;

    /// <summary>
    /// Longest session expiry granted, in seconds: MQTT 5 clients asking for more (or "never",
    /// 0xFFFFFFFF) get this and are told in CONNACK; 3.1.1 persistent sessions expire after it too.
    /// 4294967295 keeps sessions forever.
    /// </summary>
    public uint MaxSessionExpirySeconds { get; set; } = 7 * 24 * 3600;

    /// <summary>Sessions held at once, online or not (0: no limit); a CONNECT needing one more is refused (0x97 / 0x03).</summary>
    public int MaxSessions { get; set; }

    /// <summary>QoS 0 messages buffered per connection for a slow reader; more are dropped and counted.</summary>
    public int MaxQueuedQoS0Messages { get; set; } = 1000;

    /// <summary>Largest packet accepted (and sent), in bytes, fixed header included.</summary>
    public int MaxPacketSize { get; set; } = 1024 * 1024;

    /// <summary>A connection that sends no CONNECT within this many seconds is closed.</summary>
    public double ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// A connection whose socket accepts nothing for this many seconds while data waits to go out is
    /// closed as a slow consumer (its session, if persistent, goes offline); 0 turns it off.
    /// </summary>
    public double WriteTimeoutSeconds { get; set; } = 60;

    /// <summary>Seconds between <c>$SYS/broker/...</c> updates; 0 turns them off.</summary>
    public double SysIntervalSeconds { get; set; } = 10;

    /// <summary>Queue QoS 0 messages for offline persistent sessions (Mosquitto's <c>queue_qos0_messages</c>).</summary>
    public bool QueueQoS0Messages { get; set; }

    /// <summary>Retained messages kept; a new retained topic beyond this is not stored.</summary>
    public int MaxRetainedMessages { get; set; } = 100_000;

    /// <summary>Highest QoS the broker accepts and grants (0, 1 or 2); MQTT 5 clients are told in CONNACK.</summary>
    public int MaximumQoS { get; set; } = 2;

    /// <summary>Retained messages are supported; when false an MQTT 5 PUBLISH with RETAIN is refused (0x9A).</summary>
    public bool RetainAvailable { get; set; } = true;

    /// <summary>Wildcard filters are accepted; when false they get 0xA2 (MQTT 5) or 0x80.</summary>
    public bool WildcardSubscriptionAvailable { get; set; } = true;

    /// <summary>Subscription identifiers are accepted (MQTT 5).</summary>
    public bool SubscriptionIdentifiersAvailable { get; set; } = true;

    /// <summary><c>$share/{group}/{filter}</c> subscriptions are accepted.</summary>
    public bool SharedSubscriptionAvailable { get; set; } = true;

    /// <summary>How a shared subscription group picks the member for each message.</summary>
    public SharedSubscriptionStrategy SharedSubscriptionStrategy { get; set; } = SharedSubscriptionStrategy.RoundRobin;

    /// <summary>Incoming QoS 2 messages a client may have unreleased at once (MQTT 5 receive maximum the broker announces).</summary>
    public int ReceiveMaximum { get; set; } = 1024;

    /// <summary>Topic aliases an MQTT 5 client may use towards the broker (0 turns them off).</summary>
    public int TopicAliasMaximum { get; set; } = 10;

    /// <summary>When set, the longest keep alive (seconds) MQTT 5 clients get: one asking for more, or for 0, is given this as server keep alive.</summary>
    public int? ServerKeepAlive { get; set; }

    /// <summary>Response information returned to MQTT 5 clients that request it; <c>{clientid}</c> is replaced.</summary>
    public string ResponseInformation { get; set; } = "response/{clientid}";

    /// <summary>Redirect every MQTT 5 client elsewhere: <c>None</c>, <c>UseAnotherServer</c> (0x9C) or <c>ServerMoved</c> (0x9D).</summary>
    public ServerRedirect Redirect { get; set; } = ServerRedirect.None;

    /// <summary>The server reference sent with a redirect (e.g. <c>other-host:1883</c>).</summary>
    public string? ServerReference { get; set; }

    /// <summary>Connections accepted at once (0: no limit); more are closed at accept.</summary>
    public int MaxConnections { get; set; }

    /// <summary>Connections accepted at once from one IP address (0: no limit).</summary>
    public int MaxConnectionsPerAddress { get; set; }

    /// <summary>New connections per second on each listener (0: no limit); more are closed at accept.</summary>
    public double MaxConnectionRate { get; set; }

    /// <summary>Subscriptions one session may hold (0: no limit); more get SUBACK 0x97 (0x80 in 3.1.1).</summary>
    public int MaxSubscriptionsPerClient { get; set; }

    /// <summary>Levels a topic name or filter may have; deeper ones are refused (0x90 / 0x8F).</summary>
    public int MaxTopicLevels { get; set; } = 128;

    /// <summary>User properties one packet may carry (MQTT 5); more close the connection with 0x97.</summary>
    public int MaxUserProperties { get; set; } = 128;

    /// <summary>PUBLISH packets per second one client may send (0: no limit); faster clients are read more slowly.</summary>
    public double MaxPublishRate { get; set; }

    /// <summary>Bytes per second one client may send (0: no limit); faster clients are read more slowly.</summary>
    public double MaxBytesRate { get; set; }

    /// <summary>A packet that stays incomplete this long closes the connection (slowloris); 0 turns it off.</summary>
    public double IncompletePacketTimeoutSeconds { get; set; } = 30;

    public FlappingOptions Flapping { get; set; } = new();

    public BanOptions Bans { get; set; } = new();

    /// <summary>Checks option values; throws <see cref="ArgumentException"/> naming the key.</summary>
    public void Validate()
    {
        Require(MaxInflight is >= 1 and <= 65535, nameof(MaxInflight), "must be between 1 and 65535");
        Require(MaxSessions >= 0, nameof(MaxSessions), "must be 0 (no limit) or more");
        Require(MaxQueuedMessages >= 0, nameof(MaxQueuedMessages), "must be 0 or more");
        Require(MaxQueuedMessagesOnline >= 0, nameof(MaxQueuedMessagesOnline), "must be 0 or more");
        Require(MaxQueuedBytes >= 1024, nameof(MaxQueuedBytes), "must be 1024 or more");
        Require(MaxQueuedQoS0Messages >= 1, nameof(MaxQueuedQoS0Messages), "must be 1 or more");
        Require(MaxPacketSize is >= 64 and <= 268_435_460, nameof(MaxPacketSize), "must be between 64 and 268435460 (256 MiB + header)");
        Require(ConnectTimeoutSeconds > 0, nameof(ConnectTimeoutSeconds), "must be more than 0");
        Require(MaxAckHoldSeconds >= 0, nameof(MaxAckHoldSeconds), "must be 0 (no limit) or more");
        Require(WriteTimeoutSeconds >= 0, nameof(WriteTimeoutSeconds), "must be 0 (off) or more");
        Require(SysIntervalSeconds >= 0, nameof(SysIntervalSeconds), "must be 0 (off) or more");
        Require(MaxRetainedMessages >= 0, nameof(MaxRetainedMessages), "must be 0 or more");
        Require(MaximumQoS is >= 0 and <= 2, nameof(MaximumQoS), "must be 0, 1 or 2");
        Require(ReceiveMaximum is >= 1 and <= 65535, nameof(ReceiveMaximum), "must be between 1 and 65535");
        Require(TopicAliasMaximum is >= 0 and <= 65535, nameof(TopicAliasMaximum), "must be between 0 and 65535");
        Require(ServerKeepAlive is null or (>= 0 and <= 65535), nameof(ServerKeepAlive), "must be between 0 and 65535");
        Require(MaxConnections >= 0, nameof(MaxConnections), "must be 0 (no limit) or more");
        Require(MaxConnectionsPerAddress >= 0, nameof(MaxConnectionsPerAddress), "must be 0 (no limit) or more");
        Require(MaxConnectionRate >= 0, nameof(MaxConnectionRate), "must be 0 (no limit) or more");
        Require(MaxSubscriptionsPerClient >= 0, nameof(MaxSubscriptionsPerClient), "must be 0 (no limit) or more");
        Require(MaxTopicLevels >= 1, nameof(MaxTopicLevels), "must be 1 or more");
        Require(MaxUserProperties >= 0, nameof(MaxUserProperties), "must be 0 or more");
        Require(MaxPublishRate >= 0, nameof(MaxPublishRate), "must be 0 (no limit) or more");
        Require(MaxBytesRate >= 0, nameof(MaxBytesRate), "must be 0 (no limit) or more");
        Require(IncompletePacketTimeoutSeconds >= 0, nameof(IncompletePacketTimeoutSeconds), "must be 0 (off) or more");
        Require(!Flapping.Enabled || Flapping.MaxConnects >= 1, "Flapping:MaxConnects", "must be 1 or more");
        Require(!Flapping.Enabled || (Flapping.WindowSeconds > 0 && Flapping.BanSeconds > 0), "Flapping:WindowSeconds", "and Broker:Flapping:BanSeconds must be more than 0");
        foreach (var address in Bans.Addresses)
        {
            Require(AddressRange.TryParse(address, out var error) is not null, "Bans:Addresses", error ?? "");
        }

        Require(Redirect == ServerRedirect.None || !string.IsNullOrEmpty(ServerReference), nameof(ServerReference), "must be set when Broker:Redirect is not None");
    }

    private static void Require(bool ok, string key, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"{SectionName}:{key} {rule}.", key);
        }
    }
}

/// <summary>How a shared subscription group picks the member that gets a message.</summary>
public enum SharedSubscriptionStrategy
{
    RoundRobin,
    Random,
}

/// <summary>MQTT 5 server redirection (spec 4.11).</summary>
public enum ServerRedirect
{
    None,
    UseAnotherServer,
    ServerMoved,
}

/// <summary>What a full session queue drops.</summary>
public enum QueueFullPolicy
{
    /// <summary>The message arriving (Mosquitto's behaviour).</summary>
    DropNewest,

    /// <summary>The oldest queued message, to make room for the new one.</summary>
    DropOldest,
}

/// <summary>What happens when an online subscriber falls behind its publishers.</summary>
public enum SlowSubscriberPolicy
{
    /// <summary>The publishers feeding it hold back their acknowledgements until it catches up; nothing acknowledged is dropped.</summary>
    SlowPublishers,

    /// <summary>Its queue is bounded as an offline one: what overflows is dropped (by <see cref="QueueFullPolicy"/>) and counted.</summary>
    Drop,
}
