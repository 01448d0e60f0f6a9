using System.Collections.Concurrent;
using System.Net;

namespace Tern.Server.Dashboard;

/// <summary>
/// Counts failed logins per client address: after <see cref="MaxFailures"/> within
/// <see cref="Window"/>, further logins from that address are refused (429) until the oldest
/// failure leaves the window, so that guessing the password takes ages.
/// </summary>
internal sealed class DashboardSessionLimiter(TimeProvider time)
{
    /// <summary>Failures allowed per address within <see cref="Window"/>.</summary>
    public const int MaxFailures = 5;

    /// <summary>The sliding window failures are counted in.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    // Bounds the memory a flood of addresses can take; past it, addresses without recent failures go.
    private const int MaxAddresses = 10_000;

    private readonly ConcurrentDictionary<string, Queue<DateTimeOffset>> _failures = new(StringComparer.Ordinal);

    private long _refused;

    /// <summary>Logins refused with 429 since start.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Whether <paramref name="address"/> must wait; if so, <paramref name="retryAfter"/> is how long
    /// (whole seconds, at least 1) and the refusal is counted.
    /// </summary>
    public bool IsLimited(IPAddress? address, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (!_failures.TryGetValue(Key(address), out var failures))
        {
            return false;
        }

        var now = time.GetUtcNow();
        lock (failures)
        {
            Trim(failures, now);
            if (failures.Count < MaxFailures)
            {
                return false;
            }

            retryAfter = TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling((failures.Peek() + Window - now).TotalSeconds)));
        }

        Interlocked.Increment(ref _refused);
        return true;
    }

    /// <summary>Counts a wrong user name or password from <paramref name="address"/>.</summary>
    public void RecordFailure(IPAddress? address)
    {
        var now = time.GetUtcNow();
        if (_failures.Count >= MaxAddresses)
        {
            foreach (var (key, old) in _failures)
            {
                lock (old)
                {
                    Trim(old, now);
                    if (old.Count == 0)
                    {
                        _failures.TryRemove(key, out _);
                    }
                }
            }
        }

        var failures = _failures.GetOrAdd(Key(address), static _ => new Queue<DateTimeOffset>());
        lock (failures)
        {
            Trim(failures, now);
            failures.Enqueue(now);

            // Only the last MaxFailures matter for the wait.
            while (failures.Count > MaxFailures)
            {
                failures.Dequeue();
            }
        }
    }

    /// <summary>Forgets the failures of an address that logged in.</summary>
    public void Reset(IPAddress? address) => _failures.TryRemove(Key(address), out _);

    private static void Trim(Queue<DateTimeOffset> failures, DateTimeOffset now)
    {
        while (failures.Count > 0 && failures.Peek() + Window <= now)
        {
            failures.Dequeue();
        }
    }

    // IPv4 over IPv6 (::ffff:a.b.c.d) counts as the IPv4 address it is.
    private static string Key(IPAddress? address)
        => address is null ? "" : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
}
