using System.Collections.Concurrent;
using System.Net;

namespace Tern.Broker;

/// <summary>What a ban applies to.</summary>
public enum BanKind
{
    ClientId,
    Username,
    Address,
}

/// <summary>One ban; <see cref="Until"/> null lasts until removed.</summary>
public sealed record Ban(BanKind Kind, string Value, DateTimeOffset? Until, string Reason);

/// <summary>
/// Banned client ids, user names and addresses: from configuration, flapping detection, or added
/// at run time (REST API later). Banned clients are refused at accept (address) or CONNECT.
/// </summary>
public sealed class BanList
{
    private readonly ConcurrentDictionary<(BanKind, string), Ban> _bans = new();
    private readonly TimeProvider _time;
    private volatile (AddressRange Range, Ban Ban)[] _ranges = [];

    internal BanList(BanOptions options, TimeProvider time)
    {
        _time = time;
        foreach (var id in options.ClientIds)
        {
            Add(new Ban(BanKind.ClientId, id, null, "configured"));
        }

        foreach (var user in options.Usernames)
        {
            Add(new Ban(BanKind.Username, user, null, "configured"));
        }

        foreach (var address in options.Addresses)
        {
            Add(new Ban(BanKind.Address, address, null, "configured"));
        }
    }

    public IReadOnlyCollection<Ban> All => [.. _bans.Values];

    public void Add(Ban ban)
    {
        ArgumentNullException.ThrowIfNull(ban);
        if (ban.Kind == BanKind.Address && AddressRange.TryParse(ban.Value, out var error) is null)
        {
            throw new ArgumentException($"Ban address {error}.", nameof(ban));
        }

        _bans[(ban.Kind, ban.Value)] = ban;
        RebuildRanges();
    }

    public bool Remove(BanKind kind, string value)
    {
        var removed = _bans.TryRemove((kind, value), out _);
        if (removed && kind == BanKind.Address)
        {
            RebuildRanges();
        }

        return removed;
    }

    internal bool IsAddressBanned(IPAddress? address)
    {
        var ranges = _ranges;
        if (ranges.Length == 0 || address is null)
        {
            return false;
        }

        var now = _time.GetUtcNow();
        foreach (var (range, ban) in ranges)
        {
            if (range.Contains(address) && (ban.Until is not { } until || until > now))
            {
                return true;
            }
        }

        return false;
    }

    internal bool IsBanned(BanKind kind, string? value, out Ban? ban)
    {
        ban = null;
        if (value is null || _bans.IsEmpty || !_bans.TryGetValue((kind, value), out var found))
        {
            return false;
        }

        if (found.Until is { } until && until <= _time.GetUtcNow())
        {
            _bans.TryRemove((kind, value), out _);
            return false;
        }

        ban = found;
        return true;
    }

    private void RebuildRanges()
    {
        var ranges = new List<(AddressRange, Ban)>();
        foreach (var ban in _bans.Values)
        {
            if (ban.Kind == BanKind.Address && AddressRange.TryParse(ban.Value, out _) is { } range)
            {
                ranges.Add((range, ban));
            }
        }

        _ranges = [.. ranges];
    }
}
