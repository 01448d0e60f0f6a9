using System.Collections.Concurrent;
using System.Net;
using Tern.Broker.Persistence;

namespace Tern.Broker;

/// <summary>What a ban applies to.</summary>
public enum BanKind
{
    ClientId,
    Username,
    Address,
}

/// <summary>One ban; <see cref="Until"/> null lasts until removed.</summary>
public sealed record Ban(BanKind Kind, string Value, DateTimeOffset? Until, string Reason)
{
    /// <summary>The reason of the bans from configuration (<c>Broker:Bans</c>), which are not stored: the configuration brings them back.</summary>
    public const string Configured = "configured";
}

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
            Add(new Ban(BanKind.ClientId, id, null, Ban.Configured));
        }

        foreach (var user in options.Usernames)
        {
            Add(new Ban(BanKind.Username, user, null, Ban.Configured));
        }

        foreach (var address in options.Addresses)
        {
            Add(new Ban(BanKind.Address, address, null, Ban.Configured));
        }
    }

    public IReadOnlyCollection<Ban> All => [.. _bans.Values];

    /// <summary>Told of every ban added or removed at run time (a stored broker's writer); set before the broker starts.</summary>
    internal StoreWriter? Store { get; set; }

    /// <summary>Bans a client id, user name or address (a CIDR range too); with a store, it survives a restart.</summary>
    public void Add(Ban ban)
    {
        ArgumentNullException.ThrowIfNull(ban);
        if (ban.Kind == BanKind.Address && AddressRange.TryParse(ban.Value, out var error) is null)
        {
            throw new ArgumentException($"Ban address {error}.", nameof(ban));
        }

        _bans[(ban.Kind, ban.Value)] = ban;
        RebuildRanges();
        if (ban.Reason != Ban.Configured)
        {
            Store?.BanChanged(ban.Kind, ban.Value);
        }
    }

    public bool Remove(BanKind kind, string value)
    {
        var removed = _bans.TryRemove((kind, value), out _);
        if (removed && kind == BanKind.Address)
        {
            RebuildRanges();
        }

        if (removed)
        {
            Store?.BanChanged(kind, value);
        }

        return removed;
    }

    /// <summary>The ban of <paramref name="kind"/> and <paramref name="value"/> now, if any (the store writer's view).</summary>
    internal Ban? Find(BanKind kind, string value) => _bans.GetValueOrDefault((kind, value));

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
