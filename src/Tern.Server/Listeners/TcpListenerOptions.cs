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

    /// <summary>Every connection starts with a PROXY protocol v1/v2 header (behind HAProxy/NGINX).</summary>
    public bool ProxyProtocol { get; set; }

    public void Validate() => ListenerAddress.Validate(SectionName, Address, Port);

    public IPEndPoint ToEndPoint() => ListenerAddress.ToEndPoint(Address, Port);
}
