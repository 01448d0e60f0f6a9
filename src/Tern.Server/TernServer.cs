using System.Net.Sockets;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Broker.Persistence;
using Tern.Server.Bridges;
using Tern.Server.Configuration;
using Tern.Server.Dashboard;
using Tern.Server.Hosting;
using Tern.Server.Listeners;
using Tern.Server.Persistence;
using Tern.Server.Security;

namespace Tern.Server;

/// <summary>
/// The Tern host: configuration, logging, the broker engine and its Kestrel listeners.
/// <c>tern start</c> is a thin shell around this class; tests and apps embed it directly.
/// </summary>
public sealed class TernServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ListenerSetup _listeners;
    private readonly ILogger _logger;
    private readonly AuthChain _auth;
    private readonly DashboardSetup _dashboard;
    private IReadOnlyList<string> _followers = [];

    private TernServer(WebApplication app, ListenerSetup listeners, DashboardSetup dashboard, IConfiguration configuration, AuthChain auth)
    {
        _app = app;
        _listeners = listeners;
        _dashboard = dashboard;
        Configuration = configuration;
        Broker = app.Services.GetRequiredService<MqttBroker>();
        _logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<TernServer>();
        _auth = auth;
        foreach (var authenticator in auth.Authenticators)
        {
            Broker.Authenticators.Add(authenticator);
        }

        auth.Start(app.Services.GetRequiredService<ILoggerFactory>());
    }

    /// <summary>The product version, e.g. <c>0.1.0</c>.</summary>
    public static string Version { get; } = ReadVersion();

    /// <summary>The broker engine (a singleton of this host).</summary>
    public MqttBroker Broker { get; }

    /// <summary>The merged configuration: file, <c>TERN_</c> environment, args, overrides.</summary>
    public IConfiguration Configuration { get; }

    /// <summary>The bound MQTT TCP port; after <see cref="StartAsync"/> this is the real port even when 0 was configured.</summary>
    public int TcpPort => FindEndpoint("tcp")?.EndPoint.Port ?? 0;

    /// <summary>The bound MQTT-over-TLS port (<c>Listeners:Tls</c>), or 0 when that listener is off.</summary>
    public int TlsPort => FindEndpoint("tls")?.EndPoint.Port ?? 0;

    /// <summary>The bound MQTT-over-WebSocket port (<c>Listeners:Ws</c>), or 0 when that listener is off.</summary>
    public int WsPort => FindEndpoint("ws")?.EndPoint.Port ?? 0;

    /// <summary>The bound MQTT-over-secure-WebSocket port (<c>Listeners:Wss</c>), or 0 when that listener is off.</summary>
    public int WssPort => FindEndpoint("wss")?.EndPoint.Port ?? 0;

    /// <summary>The bound port of the dashboard and REST API (<c>Dashboard</c>), or 0 when it is off.</summary>
    public int DashboardPort => _dashboard.Endpoint?.EndPoint.Port ?? 0;

    /// <summary>Where the dashboard and REST API listen, e.g. <c>http://0.0.0.0:18083</c>, or null when it is off.</summary>
    public string? DashboardUrl => _dashboard.Endpoint?.Url;

    /// <summary>Where the store is (<c>Persistence:Directory</c>, or its tern.db with <c>Persistence:Engine=sqlite</c>, or the given store's location), or null with <c>Persistence:Mode=memory</c> and no given store.</summary>
    public string? StorePath => Broker.GetStoreSnapshot()?.Location;

    /// <summary>The host's services (the logger factory, for one: an embedding app or a test can add a log provider).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Where the listeners listen, e.g. <c>mqtt://0.0.0.0:1883</c>, <c>ws://0.0.0.0:8083/mqtt</c> (real ports after <see cref="StartAsync"/>).</summary>
    public IReadOnlyList<string> ListeningOn => _listeners.Endpoints.Select(e => e.Url).ToArray();

    /// <summary>
    /// Builds the host without starting it. Configuration sources, lowest precedence first:
    /// <paramref name="configFile"/> (must exist) or <c>tern.json</c> in the working directory (optional),
    /// <c>TERN_</c> environment variables (<c>TERN_Broker__MaxInflight=64</c>), <paramref name="args"/>
    /// (<c>--Broker:MaxInflight=64</c>), then <paramref name="overrides"/>.
    /// </summary>
    /// <param name="args">Command-line configuration (<c>--Section:Key=value</c>).</param>
    /// <param name="overrides">Settings that win over every other source.</param>
    /// <param name="configFile">A JSON configuration file that must exist.</param>
    /// <param name="timeProvider">The broker's clock (keep alive, expiry, will delay, timers); tests pass a fake one.</param>
    /// <param name="store">
    /// A store to use instead of the configured one: when given, it wins over <c>Persistence:Mode</c> and
    /// <c>Persistence:Directory</c> (even <c>memory</c>), and <c>Persistence:FlushIntervalMs</c> still sets how
    /// often it is flushed. The broker restores from it when it starts and disposes it when it stops.
    /// </param>
    /// <exception cref="TernConfigurationException">A file is missing or malformed, or a value is invalid; the message names the key.</exception>
    /// <exception cref="Tern.Broker.Persistence.StoreException">The store (<c>Persistence</c>) cannot be opened; the message names the file and what to do.</exception>
    public static TernServer Create(
        string[]? args = null,
        IReadOnlyDictionary<string, string?>? overrides = null,
        string? configFile = null,
        TimeProvider? timeProvider = null,
        IBrokerStore? store = null)
    {
        var fileRoot = TernConfiguration.Build(args, overrides, configFile);
        var configuration = TernConfiguration.FollowFreeTcpPort(fileRoot, out var followers);
        var brokerOptions = TernConfiguration.Bind<BrokerOptions>(configuration, BrokerOptions.SectionName);
        TernConfiguration.Validate(brokerOptions.Validate, BrokerOptions.SectionName);
        var listeners = ListenerSetup.FromConfiguration(configuration);
        var authenticators = AuthSetup.FromConfiguration(configuration);
        var authChain = AuthSetup.CreateChain(configuration);
        var acl = AclSetup.FromConfiguration(configuration);

        // The rules added through the REST API live next to the users file, and apply with or without the dashboard.
        var aclBuiltIn = AclBuiltIn.Load(
            Path.Combine(Path.GetDirectoryName(authChain.UsersStore?.FilePath ?? Path.GetFullPath(UsersFile.DefaultPath))!, AclBuiltIn.FileName), acl);
        var dashboard = DashboardSetup.FromConfiguration(configuration);
        var persistence = TernConfiguration.Bind<PersistenceOptions>(configuration, PersistenceOptions.SectionName);
        TernConfiguration.Validate(persistence.Validate, PersistenceOptions.SectionName);
        var bridges = BridgeService.FromConfiguration(configuration);
        var memory = TernConfiguration.Bind<MemoryOptions>(configuration, MemoryOptions.SectionName);
        TernConfiguration.Validate(memory.Validate, MemoryOptions.SectionName);

        // The empty builder registers no HTTP defaults (no HTTPS, no routing, no host config sources):
        // Kestrel carries MQTT connections, and HTTP only on the WebSocket listeners.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Configuration.AddConfiguration(configuration);
        TernLogging.Configure(builder.Logging, configuration);

        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseSockets(o =>
        {
            // A packet larger than the input pipe's pause threshold could never be read whole: the
            // transport would stop reading while the broker waits for the rest of the packet.
            o.MaxReadBufferSize = Math.Max(o.MaxReadBufferSize ?? 0, (long)brokerOptions.MaxPacketSize + 64 * 1024);

            // The broker's read loop never blocks, so it can run inline on the receive completion.
            // This also keeps the packets a client sent just before resetting the connection
            // (MQTTnet closes with linger 0: DISCONNECT then RST): with a thread-pool hop the
            // transport could see the reset and fail the pipe before the DISCONNECT was read,
            // and the broker would publish a will the client had cancelled.
            o.UnsafePreferInlineScheduling = true;
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            listeners.Configure(k);
            dashboard.Configure(k);
        });

        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

        // Only when started by systemd (its parent is systemd, or PID 1 with NOTIFY_SOCKET): notifies
        // READY=1 once every listener is bound and switches the console to journald's "<6>" lines.
        // After logging is configured, so that its choice of console formatter wins.
        builder.Services.AddSystemd();
        builder.Services.AddSingleton(brokerOptions);
        builder.Services.AddSingleton(persistence);
        builder.Services.AddSingleton(sp =>
        {
            var broker = new MqttBroker(brokerOptions, authenticators, sp.GetRequiredService<ILoggerFactory>(), timeProvider ?? TimeProvider.System);
            if (store is not null)
            {
                broker.UseStore(store, persistence.FlushIntervalMs);
            }
            else if (persistence.Mode != PersistenceMode.Memory)
            {
                var opened = BrokerStores.Open(persistence);
                if (opened is Persistence.Log.LogBrokerStore { TornBytes: > 0 } log)
                {
                    Hosting.Log.TornTailCut(sp.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Broker.Store"), log.TornBytes, log.Location);
                }

                broker.UseStore(opened, persistence.FlushIntervalMs);
            }

            return broker;
        });
        builder.Services.AddSingleton<MqttConnectionHandler>();
        builder.Services.AddHostedService<BrokerLifetimeService>();
        builder.Services.AddSingleton(memory);
        builder.Services.AddHostedService<MemoryTrimmer>();

        // After the broker's service: bridges start once it has started and stop before it stops.
        builder.Services.AddSingleton(sp => new BridgeService(bridges, sp.GetRequiredService<MqttBroker>(), sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BridgeService>());
        if (listeners.TcpTransport is { } tcp)
        {
            // After the broker's service: the broker restores its store before the first accept.
            builder.Services.AddHostedService(sp =>
            {
                tcp.Attach(sp.GetRequiredService<MqttBroker>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Server.Transports"));
                return tcp;
            });
        }

        if (!listeners.NeedsKestrel && !dashboard.Enabled)
        {
            // Kestrel without an endpoint would listen on localhost:5000.
            builder.Services.AddSingleton<Microsoft.AspNetCore.Hosting.Server.IServer, NoHttpServer>();
        }
        acl.AddServices(builder.Services);
        dashboard.AddServices(builder.Services);
        builder.Services.AddSingleton(sp => new ConfigurationReloader(
            () => TernConfiguration.FollowFreeTcpPort(TernConfiguration.Build(args, overrides, configFile), out _),
            fileRoot,
            configuration,
            sp.GetRequiredService<MqttBroker>(),
            acl,
            authChain.UsersStore,
            sp.GetRequiredService<BridgeService>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Server.Configuration")));
        var configPath = Path.GetFullPath(configFile ?? Path.Combine(Directory.GetCurrentDirectory(), TernConfiguration.DefaultFileName));
        builder.Services.AddSingleton<IHostedService>(sp =>
            new ConfigurationFileWatcher(configPath, () => sp.GetRequiredService<ConfigurationReloader>().Reload(), TimeProvider.System));

        var app = builder.Build();
        listeners.ConfigureApp(app);
        dashboard.ConfigureApp(app, () => listeners.Endpoints, authChain.UsersStore, aclBuiltIn);

        // Set before the listeners start: the broker reads it on every PUBLISH and SUBSCRIBE.
        app.Services.GetRequiredService<MqttBroker>().Authorizer = acl.Authorizer;
        return new TernServer(app, listeners, dashboard, configuration, authChain) { _followers = followers };
    }

    /// <summary>Starts the broker and binds the listeners.</summary>
    /// <exception cref="TernListenerException">A listener could not bind (address already in use, permission denied).</exception>
    public async Task StartAsync(CancellationToken ct = default)
    {
        try
        {
            await _app.StartAsync(ct).ConfigureAwait(false);
        }
        catch (IOException ex) when (ex.InnerException is AddressInUseException)
        {
            throw ListenerFailure(ex, "address already in use");
        }
        catch (SocketException ex)
        {
            throw ListenerFailure(ex, ex.Message);
        }
        catch (IOException ex) when (ex.InnerException is SocketException inner)
        {
            throw ListenerFailure(ex, inner.Message);
        }

        var followed = _followers.Where(f => FindSection(f) is not null).ToArray();
        if (followed.Length > 0)
        {
            Log.FollowingFreeTcpPort(_logger, string.Join(" and ", followed));
        }

        Log.Listening(_logger, Version, string.Join(", ", ListeningOn));

        _dashboard.LogStarted(_logger);
    }

    /// <summary>
    /// Re-reads the configuration from the same sources and applies what can change without closing a
    /// connection: log levels, the <c>Acl</c> section and file, the users file, and the broker limits
    /// docs/configuration.md marks as live. Other changed settings are reported in
    /// <see cref="TernReloadResult.NeedRestart"/>; a configuration that does not load or validate changes
    /// nothing. <c>tern start</c> calls this on SIGHUP; the configuration file is also followed on its own.
    /// One log line says what was applied and what needs a restart.
    /// </summary>
    public TernReloadResult Reload() => _app.Services.GetRequiredService<ConfigurationReloader>().Reload();

    /// <summary>Completes when the host has stopped: after Ctrl+C/SIGTERM, <see cref="StopAsync"/> or <paramref name="ct"/>.</summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    /// <summary>Closes every client (the broker first), then stops the listeners.</summary>
    public Task StopAsync(CancellationToken ct = default) => _app.StopAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync().ConfigureAwait(false);
        _auth.Dispose();
    }

    private ListenerEndpoint? FindSection(string section) =>
        _dashboard.Endpoint is { } dashboard && dashboard.ConfigSection == section
            ? dashboard
            : _listeners.Endpoints.FirstOrDefault(e => e.ConfigSection == section);

    private ListenerEndpoint? FindEndpoint(string name)
    {
        foreach (var endpoint in _listeners.Endpoints)
        {
            if (endpoint.Name == name)
            {
                return endpoint;
            }
        }

        return null;
    }

    private TernListenerException ListenerFailure(Exception ex, string reason)
    {
        // Kestrel names the endpoint in its message ("Failed to bind to address http://..."); map it back to our listener.
        ListenerEndpoint? failed = null;
        foreach (var endpoint in _dashboard.Endpoint is { } dashboard ? [.. _listeners.Endpoints, dashboard] : _listeners.Endpoints)
        {
            if (ex.Message.Contains($"{endpoint.EndPoint}", StringComparison.Ordinal))
            {
                failed = endpoint;
            }
        }

        failed ??= _listeners.Endpoints.Count > 0 ? _listeners.Endpoints[0] : null;
        if (failed is null)
        {
            return new TernListenerException($"Cannot start listening: {reason}.", "Listeners", "", 0, ex);
        }

        var address = failed.EndPoint.Address.ToString();
        var port = failed.EndPoint.Port;
        return new TernListenerException(
            $"Cannot listen on {failed.Url} ({failed.ConfigSection}): {reason.TrimEnd('.')}.",
            failed.ConfigSection,
            address,
            port,
            ex);
    }

    private static string ReadVersion()
    {
        var version = typeof(TernServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(TernServer).Assembly.GetName().Version?.ToString(3)
            ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}
