using System.Net;
using System.Net.Sockets;

namespace Tern.Broker;

/// <summary>An IP address or CIDR range; IPv4-mapped IPv6 addresses match their IPv4 form.</summary>
public readonly record struct AddressRange(IPAddress Network, int PrefixLength)
{
    public static bool TryParse(string text, out AddressRange range)
    {
        range = default;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out var address))
        {
            return false;
        }

        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), out prefix) || prefix < 0 || prefix > bits))
        {
            return false;
        }

        range = new AddressRange(address, prefix);
        return true;
    }

    public bool Contains(IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6 && Network.AddressFamily == AddressFamily.InterNetwork)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != Network.AddressFamily)
        {
            return false;
        }

        Span<byte> a = stackalloc byte[16];
        Span<byte> n = stackalloc byte[16];
        address.TryWriteBytes(a, out var length);
        Network.TryWriteBytes(n, out _);
        var full = PrefixLength / 8;
        if (!a[..full].SequenceEqual(n[..full]))
        {
            return false;
        }

        var rest = PrefixLength % 8;
        if (rest == 0 || full >= length)
        {
            return true;
        }

        var mask = (byte)(0xFF << (8 - rest));
        return (a[full] & mask) == (n[full] & mask);
    }
}
