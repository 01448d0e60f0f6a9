using Tern.Server.Listeners;

namespace Tern.Server.Dashboard;

/// <summary>The dashboard and REST API listener, bound from <c>Dashboard</c>.</summary>
internal sealed class DashboardOptions
{
    public const string SectionName = "Dashboard";

    /// <summary>The password a fresh install has (as EMQX's); a warning is logged and shown until it is changed.</summary>
    public const string DefaultPassword = "public";

    /// <summary>Turns the HTTP listener (dashboard and REST API) on or off.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>IP address to bind, as for the MQTT listeners.</summary>
    public string Address { get; set; } = "0.0.0.0";

    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="TernServer.DashboardPort"/>).</summary>
    public int Port { get; set; } = 18083;

    /// <summary>User name for the dashboard login and the REST API's HTTP Basic authentication.</summary>
    public string Username { get; set; } = "admin";

    public string Password { get; set; } = DefaultPassword;

    /// <summary>
    /// The Prometheus scrape endpoint (<c>/api/v5/prometheus/stats</c>) asks for the dashboard
    /// credentials, as the rest of the API; false serves it without (as EMQX does by default).
    /// </summary>
    public bool PrometheusAuth { get; set; } = true;

    public void Validate()
    {
        ListenerAddress.Validate(SectionName, Address, Port);
        if (string.IsNullOrEmpty(Username) || Username.Contains(':', StringComparison.Ordinal))
        {
            // HTTP Basic joins user and password with the first ':'.
            throw new ArgumentException($"{SectionName}:Username must be non-empty and without ':'.", nameof(Username));
        }

        if (string.IsNullOrEmpty(Password))
        {
            throw new ArgumentException($"{SectionName}:Password must not be empty.", nameof(Password));
        }
    }
}
