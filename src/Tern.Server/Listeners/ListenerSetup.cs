using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Server.Configuration;
using Tern.Server.Transports;
using Tern.Server.Transports.Tcp;

namespace Tern.Server.Listeners;

/// <summary>
/// Reads every listener section and sets up the enabled ones: MQTT over TCP on Tern's own socket
/// transport (<see cref="TcpTransport"/>); MQTT over TLS (and TCP with the PROXY protocol or
/// <c>Transport=Kestrel</c>) on Kestrel as raw connection handlers; MQTT over WebSocket (WS, WSS) as
/// Kestrel HTTP/1.1 listeners whose only endpoint is the WebSocket path.
/// </summary>
internal sealed class ListenerSetup
{
    private readonly TcpListenerOptions _tcp;
    private readonly TlsListenerOptions _tls;
    private readonly WsListenerOptions _ws;
    private readonly WssListenerOptions _wss;
    private readonly TlsSetup? _tlsSetup;
    private readonly TlsSetup? _wssSetup;
    private readonly List<ListenerEndpoint> _endpoints = [];
    private readonly ListenerEndpoint? _tcpEndpoint;

    private ListenerSetup(TcpListenerOptions tcp, TlsListenerOptions tls, WsListenerOptions ws, WssListenerOptions wss)
    {
        _tcp = tcp;
        _tls = tls;
        _ws = ws;
        _wss = wss;
        _tlsSetup = tls.IsEnabled ? TlsSetup.Load(tls, TlsListenerOptions.SectionName, TlsListenerOptions.SectionName) : null;
        _wssSetup = wss.IsEnabled
            ? TlsSetup.Load(wss, WssListenerOptions.SectionName, wss.InheritedCertificate ? TlsListenerOptions.SectionName : WssListenerOptions.SectionName)
            : null;
        if (tcp.UsesTernTransport)
        {
            var configured = tcp.ToEndPoint();
            TcpTransport = new TcpTransport(configured, tcp.Backlog) { Poller = tcp.Epoll ? SocketPoller.Shared : null };
            var transport = TcpTransport;
            _tcpEndpoint = new ListenerEndpoint("tcp", "mqtt", TcpListenerOptions.SectionName, () => transport.BoundEndPoint ?? configured);
            _endpoints.Add(_tcpEndpoint);
        }
    }

    public IReadOnlyList<ListenerEndpoint> Endpoints => _endpoints;

    /// <summary>Tern's own transport for MQTT over TCP, if that listener uses it (a hosted service).</summary>
    public TcpTransport? TcpTransport { get; }

    /// <summary>Whether any listener runs on Kestrel (without one, and without a dashboard, no HTTP server is needed).</summary>
    public bool NeedsKestrel => (_tcp.Enabled && !_tcp.UsesTernTransport) || _tlsSetup is not null || _ws.Enabled || _wssSetup is not null;

    /// <summary>Binds and validates every listener section and loads certificates; throws <see cref="TernConfigurationException"/>.</summary>
    public static ListenerSetup FromConfiguration(IConfiguration configuration)
    {
        var tcp = TernConfiguration.Bind<TcpListenerOptions>(configuration, TcpListenerOptions.SectionName);
        TernConfiguration.Validate(tcp.Validate, TcpListenerOptions.SectionName);
        var tls = TernConfiguration.Bind<TlsListenerOptions>(configuration, TlsListenerOptions.SectionName);
        TernConfiguration.Validate(() => tls.Validate(TlsListenerOptions.SectionName), TlsListenerOptions.SectionName);
        var ws = TernConfiguration.Bind<WsListenerOptions>(configuration, WsListenerOptions.SectionName);
        TernConfiguration.Validate(ws.Validate, WsListenerOptions.SectionName);
        var wss = TernConfiguration.Bind<WssListenerOptions>(configuration, WssListenerOptions.SectionName);
        wss.InheritCertificate(tls);
        TernConfiguration.Validate(() => wss.Validate(WssListenerOptions.SectionName), WssListenerOptions.SectionName);
        TernConfiguration.Validate(() => WebSocketPath.Validate(WssListenerOptions.SectionName, wss.Path), WssListenerOptions.SectionName);

        if (!tcp.Enabled && !tls.IsEnabled && !ws.Enabled && !wss.IsEnabled)
        {
            // Kestrel would otherwise fall back to http://localhost:5000.
            throw new TernConfigurationException(
                $"Invalid configuration: no listener is enabled; set {TcpListenerOptions.SectionName}:Enabled=true.",
                $"{TcpListenerOptions.SectionName}:Enabled");
        }

        return new ListenerSetup(tcp, tls, ws, wss);
    }

    /// <summary>Adds the enabled listeners to Kestrel (called from ConfigureKestrel).</summary>
    public void Configure(KestrelServerOptions kestrel)
    {
        _endpoints.Clear();
        if (_tcpEndpoint is not null)
        {
            _endpoints.Add(_tcpEndpoint);
        }

        var logger = kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Server.Transports");
        if (_tcp.Enabled && !_tcp.UsesTernTransport)
        {
            AddMqtt(kestrel, "tcp", "mqtt", TcpListenerOptions.SectionName, _tcp.ToEndPoint(), _tcp.ProxyProtocol, null, null, logger);
        }

        if (_tlsSetup is not null)
        {
            AddMqtt(kestrel, "tls", "mqtts", TlsListenerOptions.SectionName, ListenerAddress.ToEndPoint(_tls.Address, _tls.Port), _tls.ProxyProtocol, _tlsSetup, _tls, logger);
        }

        if (_ws.Enabled)
        {
            AddWebSocket(kestrel, "ws", "ws", WsListenerOptions.SectionName, ListenerAddress.ToEndPoint(_ws.Address, _ws.Port), _ws.Path, _ws.ProxyProtocol, null, null, logger);
        }

        if (_wssSetup is not null)
        {
            AddWebSocket(kestrel, "wss", "wss", WssListenerOptions.SectionName, ListenerAddress.ToEndPoint(_wss.Address, _wss.Port), _wss.Path, _wss.ProxyProtocol, _wssSetup, _wss, logger);
        }
    }

    /// <summary>The HTTP pipeline for the WebSocket listeners; requests on any other HTTP listener pass through.</summary>
    public void ConfigureApp(WebApplication app)
    {
        if (!_ws.Enabled && _wssSetup is null)
        {
            return;
        }

        var endpoint = new WebSocketEndpoint(
            app.Services.GetRequiredService<MqttBroker>(),
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Server.Transports"));
        app.UseWebSockets();
        app.Use((context, next) =>
        {
            // The connection middleware of a WebSocket listener tagged the connection; Kestrel shows
            // connection features through the request's features.
            if (context.Features.Get<MqttListenerFeature>() is { } listener && context.Features.Get<WebSocketPathFeature>() is { } path)
            {
                return endpoint.HandleAsync(context, listener, path.Path);
            }

            return next(context);
        });
    }

    private void AddMqtt(
        KestrelServerOptions kestrel, string name, string scheme, string section, IPEndPoint endPoint, bool proxyProtocol, TlsSetup? tls, SecureListenerOptions? secure, ILogger logger)
    {
        var feature = new MqttListenerFeature(name, secure?.PeerCertAsUsername ?? false, secure?.PeerCertUsernameFrom ?? PeerCertUsernameSource.CommonName);
        kestrel.Listen(endPoint, listen =>
        {
            // No ALPN: these are MQTT listeners, not HTTP ones.
            listen.Protocols = HttpProtocols.None;
            AddCommon(listen, name, proxyProtocol, tls, feature, logger);
            listen.UseConnectionHandler<MqttConnectionHandler>();
            _endpoints.Add(new ListenerEndpoint(name, scheme, section, listen));
        });
    }

    private void AddWebSocket(
        KestrelServerOptions kestrel, string name, string scheme, string section, IPEndPoint endPoint, string path, bool proxyProtocol, TlsSetup? tls, SecureListenerOptions? secure, ILogger logger)
    {
        var feature = new MqttListenerFeature(name, secure?.PeerCertAsUsername ?? false, secure?.PeerCertUsernameFrom ?? PeerCertUsernameSource.CommonName);
        var pathFeature = new WebSocketPathFeature(path);
        kestrel.Listen(endPoint, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            AddCommon(listen, name, proxyProtocol, tls, feature, logger);
            listen.Use(next => connection =>
            {
                connection.Features.Set(pathFeature);
                return next(connection);
            });
            _endpoints.Add(new ListenerEndpoint(name, scheme, section, listen, path));
        });
    }

    private static void AddCommon(ListenOptions listen, string name, bool proxyProtocol, TlsSetup? tls, MqttListenerFeature feature, ILogger logger)
    {
        // The PROXY header comes before everything else on the wire, the TLS handshake included.
        if (proxyProtocol)
        {
            listen.Use(ProxyProtocolMiddleware.Create(name, logger));
        }

        if (tls is not null)
        {
            listen.UseHttps(tls.CreateAdapterOptions((certificate, reason) => TransportLog.ClientCertificateRejected(logger, certificate.Subject, name, reason)));
        }

        listen.Use(next => connection =>
        {
            connection.Features.Set(feature);
            return next(connection);
        });
    }
}

/// <summary>The WebSocket path of the listener a connection arrived on.</summary>
internal sealed record WebSocketPathFeature(string Path);
