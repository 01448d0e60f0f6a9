namespace Tern.Broker;

/// <summary>
/// Broker-wide counters. Per-message counts live on each connection (no shared cache line on the
/// hot path) and are folded in here when the connection closes.
/// </summary>
public sealed class BrokerStatistics
{
    private long _messagesReceived;
    private long _messagesSent;
    private long _bytesReceived;
    private long _bytesSent;
    private readonly long[] _dropped = new long[Enum.GetValues<DropReason>().Length];
    private long _protocolErrors;
    private long _connectionsTotal;
    private long _connectionsRefused;
    private long _internalErrors;
    private long _slowConsumersClosed;
    private long _authenticationFailures;
    private QoSCounts _messagesReceivedByQoS;
    private QoSCounts _messagesSentByQoS;

    internal BrokerStatistics(long startTimestamp) => StartTimestamp = startTimestamp;

    internal long StartTimestamp { get; }

    /// <summary>Messages not delivered, every reason but <see cref="DropReason.NoSubscribers"/> (a publish nobody wanted is not a loss).</summary>
    public long MessagesDropped
    {
        get
        {
            long total = 0;
            for (var i = 0; i < _dropped.Length; i++)
            {
                total += i == (int)DropReason.NoSubscribers ? 0 : Interlocked.Read(ref _dropped[i]);
            }

            return total;
        }
    }

    /// <summary>Messages not delivered for <paramref name="reason"/>.</summary>
    public long Dropped(DropReason reason) => Interlocked.Read(ref _dropped[(int)reason]);

    public long ProtocolErrors => Interlocked.Read(ref _protocolErrors);

    public long ConnectionsTotal => Interlocked.Read(ref _connectionsTotal);

    /// <summary>Connections closed at accept by a limit or an address ban.</summary>
    public long ConnectionsRefused => Interlocked.Read(ref _connectionsRefused);

    /// <summary>Connections closed by an unexpected exception (logged at Error with the stack).</summary>
    public long InternalErrors => Interlocked.Read(ref _internalErrors);

    /// <summary>Connections closed because their socket took nothing for <see cref="BrokerOptions.WriteTimeoutSeconds"/>.</summary>
    public long SlowConsumersClosed => Interlocked.Read(ref _slowConsumersClosed);

    /// <summary>CONNECTs refused by authentication (bad credentials, not authorized, a failed enhanced authentication) and failed re-authentications.</summary>
    public long AuthenticationFailures => Interlocked.Read(ref _authenticationFailures);

    internal long ClosedMessagesReceived => Interlocked.Read(ref _messagesReceived);

    internal long ClosedMessagesSent => Interlocked.Read(ref _messagesSent);

    internal long ClosedBytesReceived => Interlocked.Read(ref _bytesReceived);

    internal long ClosedBytesSent => Interlocked.Read(ref _bytesSent);

    internal long ClosedMessagesReceivedAt(int qos) => Interlocked.Read(ref _messagesReceivedByQoS[qos]);

    internal long ClosedMessagesSentAt(int qos) => Interlocked.Read(ref _messagesSentByQoS[qos]);

    internal void AuthenticationFailed() => Interlocked.Increment(ref _authenticationFailures);

    internal void MessageDropped(DropReason reason, long count = 1) => Interlocked.Add(ref _dropped[(int)reason], count);

    internal void SlowConsumerClosed() => Interlocked.Increment(ref _slowConsumersClosed);

    internal void InternalError() => Interlocked.Increment(ref _internalErrors);

    internal void ProtocolError() => Interlocked.Increment(ref _protocolErrors);

    internal void ConnectionOpened() => Interlocked.Increment(ref _connectionsTotal);

    internal void ConnectionRefused() => Interlocked.Increment(ref _connectionsRefused);

    internal void AddClosed(long messagesReceived, long messagesSent, long bytesReceived, long bytesSent)
    {
        Interlocked.Add(ref _messagesReceived, messagesReceived);
        Interlocked.Add(ref _messagesSent, messagesSent);
        Interlocked.Add(ref _bytesReceived, bytesReceived);
        Interlocked.Add(ref _bytesSent, bytesSent);
    }

    /// <summary>Folds in a closed connection's messages by QoS.</summary>
    internal void AddClosedByQoS(in QoSCounts received, in QoSCounts sent)
    {
        for (var qos = 0; qos < QoSCounts.Length; qos++)
        {
            Interlocked.Add(ref _messagesReceivedByQoS[qos], received[qos]);
            Interlocked.Add(ref _messagesSentByQoS[qos], sent[qos]);
        }
    }
}
