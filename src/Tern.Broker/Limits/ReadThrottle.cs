namespace Tern.Broker;

/// <summary>
/// Per-connection publish and byte rate limits. The read loop asks how long to pause after a
/// batch; pausing the reads lets TCP flow control slow the client down (as EMQX does) instead
/// of dropping its messages. Used by one read loop only, so no locking.
/// </summary>
internal sealed class ReadThrottle
{
    private readonly double _messagesPerSecond;
    private readonly double _bytesPerSecond;
    private double _messageTokens;
    private double _byteTokens;
    private readonly TimeProvider _time;
    private long _last;

    public ReadThrottle(double messagesPerSecond, double bytesPerSecond, TimeProvider time)
    {
        _time = time;
        _last = BrokerClock.Milliseconds(time);
        _messagesPerSecond = messagesPerSecond;
        _bytesPerSecond = bytesPerSecond;
        _messageTokens = messagesPerSecond;
        _byteTokens = bytesPerSecond;
    }

    public static ReadThrottle? Create(BrokerOptions options, TimeProvider time)
        => options.MaxPublishRate > 0 || options.MaxBytesRate > 0 ? new ReadThrottle(options.MaxPublishRate, options.MaxBytesRate, time) : null;

    public void Spend(int messages, long bytes)
    {
        _messageTokens -= messages;
        _byteTokens -= bytes;
    }

    /// <summary>How long to stop reading so that the client stays within its rates.</summary>
    public TimeSpan Delay()
    {
        var now = BrokerClock.Milliseconds(_time);
        var elapsed = (now - _last) / 1000.0;
        _last = now;
        var wait = 0.0;
        if (_messagesPerSecond > 0)
        {
            _messageTokens = Math.Min(_messagesPerSecond, _messageTokens + (elapsed * _messagesPerSecond));
            wait = Math.Max(wait, -_messageTokens / _messagesPerSecond);
        }

        if (_bytesPerSecond > 0)
        {
            _byteTokens = Math.Min(_bytesPerSecond, _byteTokens + (elapsed * _bytesPerSecond));
            wait = Math.Max(wait, -_byteTokens / _bytesPerSecond);
        }

        return wait > 0 ? TimeSpan.FromSeconds(wait) : TimeSpan.Zero;
    }
}
