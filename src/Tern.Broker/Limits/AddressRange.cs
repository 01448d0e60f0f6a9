using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tern.Broker;

/// <summary>
/// An IP address or CIDR network (<c>10.0.0.0/8</c>, <c>::1</c>, <c>fd00::/8</c>), for ACL rules and
/// bans. IPv4 clients seen as IPv4-mapped IPv6 addresses (a listener on <c>::</c>) match IPv4 ranges.
/// </summary>
public sealed class AddressRange
{
    private readonly byte[] _prefix;
    private readonly int _prefixBits;

    private AddressRange(byte[] prefix, int prefixBits, string text)
    {
        _prefix = prefix;
        _prefixBits = prefixBits;
        Text = text;
    }

    public string Text { get; }

    /// <summary>Parses <c>address</c> or <c>address/bits</c>; null (and why) when malformed or when host bits are set.</summary>
    public static AddressRange? TryParse(string text, out string? error)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        // IPAddress.TryParse also takes "10.0.0" and "10" (inet_aton forms); a rule wants all four parts.
        var shortIPv4 = !addressText.Contains(':', StringComparison.Ordinal) && addressText.Count(c => c == '.') != 3;
        if (shortIPv4 || !IPAddress.TryParse(addressText, out var address) || addressText.Contains('%', StringComparison.Ordinal))
        {
            error = $"must be an IP address or CIDR network such as 10.0.0.0/8 or fd00::/8, not '{text}'";
            return null;
        }

        var bytes = address.GetAddressBytes();
        var maxBits = bytes.Length * 8;
        var bits = maxBits;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out bits) || bits > maxBits))
        {
            error = $"has an invalid prefix length in '{text}' (0-{maxBits} for {(maxBits == 32 ? "IPv4" : "IPv6")})";
            return null;
        }

        if (address.IsIPv4MappedToIPv6 && bits >= 96)
        {
            // Compare mapped rules as IPv4, the form clients are normalised to.
            bytes = bytes[12..];
            bits -= 96;
        }

        for (var bit = bits; bit < bytes.Length * 8; bit++)
        {
            if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0)
            {
                // 10.0.0.1/8 is most likely a typo for 10.0.0.0/8 or 10.0.0.1/32; refuse rather than guess.
                error = $"has host bits set in '{text}'; write the network address (e.g. 10.0.0.0/8) or a /{bytes.Length * 8} host";
                return null;
            }
        }

        error = null;
        return new AddressRange(bytes, bits, text);
    }

    /// <summary>Is <paramref name="address"/> inside this network? Allocation-free.</summary>
    public bool Contains(IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        Span<byte> buffer = stackalloc byte[16];
        if (!address.TryWriteBytes(buffer, out var written))
        {
            return false;
        }

        ReadOnlySpan<byte> bytes = buffer[..written];
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv4MappedToIPv6)
        {
            bytes = bytes[12..];
        }

        if (bytes.Length != _prefix.Length)
        {
            return false;
        }

        var whole = _prefixBits / 8;
        if (!bytes[..whole].SequenceEqual(_prefix.AsSpan(0, whole)))
        {
            return false;
        }

        var rest = _prefixBits % 8;
        if (rest == 0)
        {
            return true;
        }

        var mask = (byte)(0xFF << (8 - rest));
        return (bytes[whole] & mask) == _prefix[whole];
    }

    public override string ToString() => Text;
}
