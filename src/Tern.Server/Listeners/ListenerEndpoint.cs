using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Tern.Server.Listeners;

/// <summary>
/// One configured listener. Its transport replaces the configured endpoint with the bound one when
/// it starts (Kestrel in <see cref="ListenOptions.EndPoint"/>), so port 0 reads back as the real port afterwards.
/// </summary>
internal sealed class ListenerEndpoint(string name, string scheme, string configSection, Func<IPEndPoint?> endPoint, string path = "")
{
    public ListenerEndpoint(string name, string scheme, string configSection, ListenOptions listenOptions, string path = "")
        : this(name, scheme, configSection, () => listenOptions.IPEndPoint, path)
    {
    }

    /// <summary>Listener name as the broker sees it (<c>tcp</c>, <c>tls</c>, <c>ws</c>, <c>wss</c>).</summary>
    public string Name { get; } = name;

    /// <summary>URI scheme for display (<c>mqtt</c>, <c>mqtts</c>, <c>ws</c>, <c>wss</c>).</summary>
    public string Scheme { get; } = scheme;

    /// <summary>Configuration section, for error messages (<c>Listeners:Tcp</c>).</summary>
    public string ConfigSection { get; } = configSection;

    /// <summary>The WebSocket path (<c>/mqtt</c>), empty for MQTT over TCP/TLS.</summary>
    public string Path { get; } = path;

    public IPEndPoint EndPoint => endPoint() ?? throw new InvalidOperationException($"{ConfigSection} is not an IP listener.");

    public string Url => EndPoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        ? $"{Scheme}://[{EndPoint.Address}]:{EndPoint.Port}{Path}"
        : $"{Scheme}://{EndPoint.Address}:{EndPoint.Port}{Path}";
}
