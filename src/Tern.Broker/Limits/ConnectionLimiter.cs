using System.Collections.Concurrent;
using System.Net;

namespace Tern.Broker;

/// <summary>
/// Admission at accept: banned addresses, total and per-address connection caps, and a
/// connection rate per listener (token bucket). Flapping client ids are tracked for CONNECT.
/// </summary>
internal sealed class ConnectionLimiter
{
    private readonly BrokerOptions _options;
    private readonly BanList _bans;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private readonly ConcurrentDictionary<string, TokenBucket> _rates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Queue<long>> _connects = new(StringComparer.Ordinal);
    private int _total;

    public ConnectionLimiter(BrokerOptions options, BanList bans, TimeProvider time)
    {
        _options = options;
        _bans = bans;
        _time = time;
    }

    /// <summary>Admits a connection or says why not; an admitted one must be <see cref="Release"/>d.</summary>
    public string? TryAdmit(MqttConnectionInfo info, out IPAddress? address)
    {
        address = (info.RemoteEndPoint as IPEndPoint)?.Address;
        if (address is not null && address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (_bans.IsAddressBanned(address))
        {
            return "address is banned";
        }

        if (_options.MaxConnectionRate > 0)
        {
            var bucket = _rates.GetOrAdd(info.Listener, _ => new TokenBucket(_options.MaxConnectionRate, Math.Max(1, _options.MaxConnectionRate), _time));
            if (!bucket.TryTake(1))
            {
                return $"more than {_options.MaxConnectionRate} new connections per second on listener {info.Listener}";
            }
        }

        if (Interlocked.Increment(ref _total) > _options.MaxConnections && _options.MaxConnections > 0)
        {
            Interlocked.Decrement(ref _total);
            return $"the broker already holds {_options.MaxConnections} connections";
        }

        if (address is not null && _options.MaxConnectionsPerAddress > 0
            && _perAddress.AddOrUpdate(address, 1, static (_, n) => n + 1) > _options.MaxConnectionsPerAddress)
        {
            Release(address);
            return $"{address} already holds {_options.MaxConnectionsPerAddress} connections";
        }

        return null;
    }

    public void Release(IPAddress? address)
    {
        Interlocked.Decrement(ref _total);
        if (address is not null && _options.MaxConnectionsPerAddress > 0)
        {
            var left = _perAddress.AddOrUpdate(address, 0, static (_, n) => n - 1);
            if (left <= 0)
            {
                _perAddress.TryRemove(new KeyValuePair<IPAddress, int>(address, left));
            }
        }
    }

    /// <summary>
    /// Counts a CONNECT of <paramref name="clientId"/>; true when it is flapping (more connects in
    /// the window than allowed), in which case the id is banned for the configured time.
    /// </summary>
    public bool RecordConnect(string clientId, DateTimeOffset now)
    {
        var flapping = _options.Flapping;
        if (!flapping.Enabled)
        {
            return false;
        }

        var ticks = BrokerClock.Milliseconds(_time);
        var window = (long)(flapping.WindowSeconds * 1000);
        var history = _connects.GetOrAdd(clientId, _ => new Queue<long>());
        lock (history)
        {
            while (history.Count > 0 && ticks - history.Peek() > window)
            {
                history.Dequeue();
            }

            history.Enqueue(ticks);
            if (history.Count <= flapping.MaxConnects)
            {
                return false;
            }

            history.Clear();
        }

        _bans.Add(new Ban(BanKind.ClientId, clientId, now.AddSeconds(flapping.BanSeconds), $"flapping: more than {flapping.MaxConnects} connects in {flapping.WindowSeconds} s"));
        return true;
    }

    /// <summary>Forgets connect histories that are older than the window (timer).</summary>
    public void Sweep()
    {
        if (!_options.Flapping.Enabled || _connects.IsEmpty)
        {
            return;
        }

        var ticks = BrokerClock.Milliseconds(_time);
        var window = (long)(_options.Flapping.WindowSeconds * 1000);
        foreach (var (id, history) in _connects)
        {
            lock (history)
            {
                if (history.Count == 0 || ticks - history.Peek() > window)
                {
                    _connects.TryRemove(id, out _);
                }
            }
        }
    }
}

/// <summary>A token bucket refilled continuously; thread-safe.</summary>
internal sealed class TokenBucket
{
    private readonly Lock _sync = new();
    private readonly double _ratePerSecond;
    private readonly double _capacity;
    private double _tokens;
    private readonly TimeProvider _time;
    private long _last;

    public TokenBucket(double ratePerSecond, double capacity, TimeProvider time)
    {
        _time = time;
        _last = BrokerClock.Milliseconds(time);
        _ratePerSecond = ratePerSecond;
        _capacity = capacity;
        _tokens = capacity;
    }

    public bool TryTake(double count)
    {
        lock (_sync)
        {
            Refill();
            if (_tokens < count)
            {
                return false;
            }

            _tokens -= count;
            return true;
        }
    }

    private void Refill()
    {
        var now = BrokerClock.Milliseconds(_time);
        _tokens = Math.Min(_capacity, _tokens + ((now - _last) * _ratePerSecond / 1000.0));
        _last = now;
    }
}
