using System.Net;

namespace Tern.Server.Listeners;

/// <summary>Parses the <c>Address</c> key every listener shares.</summary>
internal static class ListenerAddress
{
    public static bool TryParse(string? text, out IPAddress? address)
    {
        text = text?.Trim();
        if (string.Equals(text, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
            return true;
        }

        if (text is "*")
        {
            address = IPAddress.Any;
            return true;
        }

        // Accept "[::1]" as well as "::1".
        if (text is ['[', .., ']'])
        {
            text = text[1..^1];
        }

        return IPAddress.TryParse(text, out address);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> (turned into a config error naming the key) for a bad port or address.</summary>
    public static void Validate(string section, string? address, int port)
    {
        if (port is < 0 or > 65535)
        {
            throw new ArgumentException($"{section}:Port must be between 0 and 65535.", "Port");
        }

        if (!TryParse(address, out _))
        {
            throw new ArgumentException(
                $"{section}:Address must be an IP address such as 0.0.0.0, :: or 127.0.0.1, not '{address}'.",
                "Address");
        }
    }

    public static IPEndPoint ToEndPoint(string? address, int port)
    {
        TryParse(address, out var ip);
        return new IPEndPoint(ip!, port);
    }
}
