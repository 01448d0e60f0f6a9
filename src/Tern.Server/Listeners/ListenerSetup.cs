using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Tern.Server.Configuration;

namespace Tern.Server.Listeners;

/// <summary>
/// Reads every listener section and adds the enabled ones to Kestrel. One method per listener kind;
/// TLS, WebSocket and the dashboard slot in here next to <see cref="AddTcp"/>.
/// </summary>
internal sealed class ListenerSetup
{
    private readonly TcpListenerOptions _tcp;
    private readonly List<ListenerEndpoint> _endpoints = [];

    private ListenerSetup(TcpListenerOptions tcp) => _tcp = tcp;

    public IReadOnlyList<ListenerEndpoint> Endpoints => _endpoints;

    /// <summary>Binds and validates every listener section; throws <see cref="TernConfigurationException"/>.</summary>
    public static ListenerSetup FromConfiguration(IConfiguration configuration)
    {
        var tcp = TernConfiguration.Bind<TcpListenerOptions>(configuration, TcpListenerOptions.SectionName);
        TernConfiguration.Validate(tcp.Validate, TcpListenerOptions.SectionName);
        if (!tcp.Enabled)
        {
            // Kestrel would otherwise fall back to http://localhost:5000.
            throw new TernConfigurationException(
                $"Invalid configuration: no listener is enabled; set {TcpListenerOptions.SectionName}:Enabled=true.",
                $"{TcpListenerOptions.SectionName}:Enabled");
        }

        return new ListenerSetup(tcp);
    }

    /// <summary>Adds the enabled listeners to Kestrel (called from ConfigureKestrel).</summary>
    public void Configure(KestrelServerOptions kestrel)
    {
        _endpoints.Clear();
        AddTcp(kestrel);
    }

    private void AddTcp(KestrelServerOptions kestrel)
    {
        if (!_tcp.Enabled)
        {
            return;
        }

        kestrel.Listen(_tcp.ToEndPoint(), listen =>
        {
            listen.UseConnectionHandler<MqttConnectionHandler>();
            _endpoints.Add(new ListenerEndpoint("tcp", "mqtt", TcpListenerOptions.SectionName, listen));
        });
    }
}
