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

    /// <summary>
    /// <c>Tern</c> (the default): Tern's own socket transport, which holds no buffers for an idle
    /// connection; <c>Kestrel</c>: ASP.NET Core's socket transport, as before. With
    /// <see cref="ProxyProtocol"/> the listener runs on Kestrel, whose connection middleware reads the header.
    /// </summary>
    public TcpTransportKind Transport { get; set; } = TcpTransportKind.Tern;

    /// <summary>Connections the kernel queues before they are accepted (<c>listen</c>'s backlog, capped by <c>net.core.somaxconn</c>).</summary>
    public int Backlog { get; set; } = 512;

    /// <summary>
    /// On Linux, Tern's transport watches idle sockets in its own epoll set (no .NET socket context
    /// per connection); false makes it wait with zero-byte receives, as it does on other systems.
    /// </summary>
    public bool Epoll { get; set; } = true;

    /// <summary>Whether this listener runs on Tern's own transport.</summary>
    public bool UsesTernTransport => Enabled && Transport == TcpTransportKind.Tern && !ProxyProtocol;

    public void Validate()
    {
        ListenerAddress.Validate(SectionName, Address, Port);
        if (!Enum.IsDefined(Transport))
        {
            throw new ArgumentException($"{SectionName}:Transport must be Tern or Kestrel.", nameof(Transport));
        }

        if (Backlog < 1)
        {
            throw new ArgumentException($"{SectionName}:Backlog must be at least 1, not {Backlog}.", nameof(Backlog));
        }
    }

    public IPEndPoint ToEndPoint() => ListenerAddress.ToEndPoint(Address, Port);
}

/// <summary>Which socket transport carries MQTT over plain TCP.</summary>
internal enum TcpTransportKind
{
    /// <summary>Tern's own: epoll or zero-byte receives, buffers only while bytes are in flight.</summary>
    Tern,

    /// <summary>ASP.NET Core Kestrel's socket transport.</summary>
    Kestrel,
}
