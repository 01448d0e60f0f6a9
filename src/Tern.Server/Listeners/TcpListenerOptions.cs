using System.Net;

namespace Tern.Server.Listeners;

/// <summary>MQTT over plain TCP, bound from <c>Listeners:Tcp</c>.</summary>
internal sealed class TcpListenerOptions
{
    public const string SectionName = "Listeners:Tcp";

    /// <summary>Turns the listener on or off.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>IP address to bind: <c>0.0.0.0</c> (all IPv4), <c>::</c> (all IPv6 and IPv4), <c>127.0.0.1</c>, or <c>localhost</c>.</summary>
    public string Address { get; set; } = "0.0.0.0";

    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="TernServer.TcpPort"/>).</summary>
    public int Port { get; set; } = 1883;

    public void Validate()
    {
        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"{SectionName}:{nameof(Port)} must be between 0 and 65535.", nameof(Port));
        }

        if (!TryParseAddress(Address, out _))
        {
            throw new ArgumentException(
                $"{SectionName}:{nameof(Address)} must be an IP address such as 0.0.0.0, :: or 127.0.0.1, not '{Address}'.",
                nameof(Address));
        }
    }

    public IPEndPoint ToEndPoint()
    {
        TryParseAddress(Address, out var address);
        return new IPEndPoint(address!, Port);
    }

    private static bool TryParseAddress(string? text, out IPAddress? address)
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
}
