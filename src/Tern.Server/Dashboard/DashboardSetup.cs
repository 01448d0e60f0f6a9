using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tern.Broker;
using Tern.Server.Configuration;
using Tern.Server.Listeners;
using Tern.Server.Persistence;
using Tern.Server.Security;

namespace Tern.Server.Dashboard;

/// <summary>
/// The HTTP listener of the dashboard and REST API (<c>Dashboard</c> section): its own Kestrel
/// endpoint, whose requests alone reach a branch with routing, Basic authentication on
/// <c>/api</c>, the API and the embedded page. Requests on other listeners never get there.
/// </summary>
internal sealed class DashboardSetup
{
    private readonly DashboardOptions _options;
    private readonly DashboardCredentials _credentials;
    private readonly V5Tokens _tokens = new(TimeProvider.System);
    private readonly DashboardSessions _sessions = new(TimeProvider.System);
    private readonly DashboardSessionLimiter _limiter = new(TimeProvider.System);
    private readonly TlsSetup? _tls;
    private DashboardSessionApi? _sessionApi;
    private ListenerEndpoint? _endpoint;
    private V5ApiKeys? _apiKeys;
    private DashboardPasswordFile? _passwordFile;

    // The user of a dashboard_password.json that is not Dashboard:Username's, warned of at start.
    private string? _passwordFileUser;

    private DashboardSetup(DashboardOptions options)
    {
        _options = options;
        _credentials = new DashboardCredentials(options.Username, options.Password);

        // Loaded now: a missing or broken file stops the start with its key, not the first browser.
        if (options.Enabled && options.IsHttps)
        {
            var certificate = options.Certificate;
            const string section = DashboardCertificateOptions.SectionName;
            _tls = TlsSetup.LoadServerCertificate(certificate.Path!, certificate.KeyPath, certificate.Password, $"{section}:Path", $"{section}:KeyPath", $"{section}:Password");
        }
    }

    /// <summary>The bound endpoint (the real port after start), or null when the dashboard is off.</summary>
    public ListenerEndpoint? Endpoint => _endpoint;

    /// <summary>Whether the dashboard and REST API listener is on.</summary>
    public bool Enabled => _options.Enabled;

    public static DashboardSetup FromConfiguration(IConfiguration configuration)
    {
        var options = TernConfiguration.Bind<DashboardOptions>(configuration, DashboardOptions.SectionName);
        TernConfiguration.Validate(options.Validate, DashboardOptions.SectionName);
        return new DashboardSetup(options);
    }

    public void AddServices(IServiceCollection services)
    {
        if (_options.Enabled)
        {
            services.AddRoutingCore();
            PrometheusEndpoint.AddServices(services);
            V5OpenApi.AddServices(services);
        }
    }

    /// <summary>Adds the HTTP listener to Kestrel (called from ConfigureKestrel).</summary>
    public void Configure(KestrelServerOptions kestrel)
    {
        if (!_options.Enabled)
        {
            return;
        }

        kestrel.Listen(ListenerAddress.ToEndPoint(_options.Address, _options.Port), listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            if (_tls is not null)
            {
                // No client certificates here: the dashboard signs its users in with a password.
                listen.UseHttps(_tls.CreateAdapterOptions(static (_, _) => { }));
            }

            listen.Use(next => connection =>
            {
                connection.Features.Set(DashboardConnectionFeature.Instance);
                return next(connection);
            });
            _endpoint = new ListenerEndpoint("dashboard", _tls is null ? "http" : "https", DashboardOptions.SectionName, listen);
        });
    }

    /// <summary>Adds the dashboard branch to the HTTP pipeline.</summary>
    /// <param name="app">The application.</param>
    /// <param name="mqttListeners">The bound MQTT listeners.</param>
    /// <param name="users">The users file the API manages (its directory also holds <c>api_keys.json</c>).</param>
    /// <param name="acl">The ACL rules the API manages.</param>
    /// <exception cref="TernConfigurationException">The API keys or dashboard password file is unreadable or malformed.</exception>
    public void ConfigureApp(WebApplication app, Func<IReadOnlyList<ListenerEndpoint>> mqttListeners, UsersStore? users, AclBuiltIn acl)
    {
        if (!_options.Enabled)
        {
            return;
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tern.Server.Dashboard");
        var directory = Path.GetDirectoryName(acl.FilePath)!;
        _apiKeys = V5ApiKeys.Load(Path.Combine(directory, V5ApiKeys.FileName), TimeProvider.System);
        var passwordFile = new DashboardPasswordFile(Path.Combine(directory, DashboardPasswordFile.FileName));
        _passwordFile = passwordFile;
        if (passwordFile.Load(_options.Username, out _passwordFileUser) is { } hash)
        {
            _credentials.UseHash(hash);
        }

        var management = new V5Management(_apiKeys, users, acl, mqttListeners, passwordFile, _sessions, app.Services.GetRequiredService<PersistenceOptions>().Mode);
        var sessionApi = _sessionApi = new DashboardSessionApi(
            app.Services.GetRequiredService<MqttBroker>().Options, _credentials, _sessions, _limiter, logger);
        var v5 = new V5Api(app.Services.GetRequiredService<MqttBroker>(), _credentials, _tokens, management, logger)
        {
            BridgeService = app.Services.GetService<Bridges.BridgeService>(),
            LoginLimit = sessionApi,
        };
        var assets = new DashboardAssets();

        // A branch has its own routing: the endpoints below exist only for dashboard connections.
        app.MapWhen(
            static context => context.Features.Get<DashboardConnectionFeature>() is not null,
            branch =>
            {
                branch.Use((context, next) => GuardAsync(context, next, logger));
                branch.UseRouting();
                branch.UseEndpoints(endpoints =>
                {
                    sessionApi.Map(endpoints);
                    PrometheusEndpoint.Map(endpoints);
                    v5.Map(endpoints);
                    V5OpenApi.Map(endpoints);
                    foreach (var path in assets.Paths)
                    {
                        endpoints.MapMethods(path, [HttpMethods.Get, HttpMethods.Head], assets.ServeAsync);
                    }

                    endpoints.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], assets.ServeAsync);
                    endpoints.Map("/api/{**rest}", static () => ApiProblem.Of(StatusCodes.Status404NotFound, "NOT_FOUND", "No such API endpoint: the API is under /api/v5 (docs/rest-api.md)."))
                        .ExcludeFromDescription();
                });
            });
    }

    /// <summary>Logs where the dashboard listens and, while the password is the default, warns.</summary>
    public void LogStarted(ILogger logger)
    {
        if (_endpoint is null)
        {
            return;
        }

        DashboardLog.Listening(logger, _endpoint.Url, _options.Username);
        if (_passwordFileUser is not null)
        {
            V5Log.PasswordFileOfOtherUser(logger, _passwordFile!.FilePath, _passwordFileUser, _options.Username);
        }

        if (_credentials.UsesDefaultPassword)
        {
            DashboardLog.DefaultPassword(logger, _options.Username, _endpoint.Url);
        }
    }

    /// <summary>
    /// Runs an <c>/api/v5</c> request; a file the API writes that cannot be written or read (the
    /// users file, <c>api_keys.json</c>, <c>acl_rules.json</c>) is EMQX's 500 with the reason, not a bare 500.
    /// </summary>
    private static async Task NextOrFileErrorAsync(HttpContext context, RequestDelegate next, ILogger logger)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException && !context.Response.HasStarted)
        {
            V5Log.FileFailed(logger, context.Request.Method, context.Request.Path, ex.Message);
            await V5Api.Error(StatusCodes.Status500InternalServerError, "INTERNAL_ERROR", $"{ex.Message} Check the file's permissions and content; nothing was changed.")
                .ExecuteAsync(context).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Security headers on everything; on every <c>/api</c> request but the logins, HTTP Basic
    /// authentication (the dashboard user or an API key), a bearer token from <c>POST /api/v5/login</c>,
    /// or the dashboard's session cookie with its CSRF token on changes (<see cref="DashboardSessions"/>).
    /// </summary>
    private Task GuardAsync(HttpContext context, RequestDelegate next, ILogger logger)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments(V5OpenApi.DocsPath, StringComparison.Ordinal)
            ? V5OpenApi.ContentSecurityPolicy
            : "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
        {
            return next(context);
        }

        headers.CacheControl = "no-store";
        string? authorization = context.Request.Headers.Authorization;
        if (HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals(V5Api.LoginPath, StringComparison.Ordinal))
        {
            return LimitedLoginAsync(context, next);
        }

        // The login, session and logout endpoints check what they need themselves.
        if (context.Request.Path.StartsWithSegments(DashboardSessionApi.Prefix, StringComparison.Ordinal))
        {
            return next(context);
        }

        if (authorization is null && _sessions.Find(context) is { } session)
        {
            if (DashboardSessions.PassesCsrfCheck(context, session))
            {
                return context.Request.Path.StartsWithSegments(V5Api.Prefix, StringComparison.Ordinal) ? NextOrFileErrorAsync(context, next, logger) : next(context);
            }

            DashboardSessionLog.CsrfRefused(logger, context.Connection.RemoteIpAddress?.ToString(), context.Request.Method, context.Request.Path);
            return ApiProblem.Of(StatusCodes.Status403Forbidden, "BAD_CSRF_TOKEN", $"The {DashboardSessions.CsrfHeader} header is missing or wrong: reload the dashboard.")
                .ExecuteAsync(context);
        }

        if (_credentials.IsAuthorized(authorization) || _tokens.IsAuthorized(authorization) || (_apiKeys?.IsAuthorized(authorization) ?? false)
            || (!_options.PrometheusAuth && PrometheusEndpoint.IsScrape(context.Request)))
        {
            return context.Request.Path.StartsWithSegments(V5Api.Prefix, StringComparison.Ordinal) ? NextOrFileErrorAsync(context, next, logger) : next(context);
        }

        DashboardLog.Unauthorized(logger, context.Connection.RemoteIpAddress?.ToString(), context.Request.Method, context.Request.Path);

        // The dashboard's own requests say so: no Basic challenge, so the browser shows no prompt over the login form.
        if (!context.Request.Headers.XRequestedWith.Equals("XMLHttpRequest"))
        {
            headers.WWWAuthenticate = "Basic realm=\"Tern\", charset=\"UTF-8\"";
        }

        var bearer = authorization?.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) == true;
        return ApiProblem.Of(StatusCodes.Status401Unauthorized, bearer ? "BAD_TOKEN" : "BAD_USERNAME_OR_PWD", bearer
                ? "The bearer token is unknown or expired: log in again with POST /api/v5/login."
                : "Authentication required: HTTP Basic with the dashboard user and password (Dashboard:Username, Dashboard:Password) or an enabled, unexpired API key and its secret (POST /api/v5/api_key), or a bearer token from POST /api/v5/login.")
            .ExecuteAsync(context);
    }

    /// <summary><c>POST /api/v5/login</c> under the same per-address limit as the login form.</summary>
    private async Task LimitedLoginAsync(HttpContext context, RequestDelegate next)
    {
        if (_sessionApi!.IsThrottled(context, out var message))
        {
            await V5Api.Error(StatusCodes.Status429TooManyRequests, "TOO_MANY_REQUESTS", message).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        await next(context).ConfigureAwait(false);
        if (context.Response.StatusCode == StatusCodes.Status401Unauthorized)
        {
            _sessionApi.CountFailure(context);
        }
    }
}

/// <summary>Marks connections accepted on the dashboard listener.</summary>
internal sealed class DashboardConnectionFeature
{
    public static readonly DashboardConnectionFeature Instance = new();
}
