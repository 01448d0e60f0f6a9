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

    /// <summary>With a certificate the port serves HTTPS only (and the session cookie is Secure); without, plain HTTP.</summary>
    public DashboardCertificateOptions Certificate { get; set; } = new();

    public bool IsHttps => !string.IsNullOrWhiteSpace(Certificate.Path);

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

        if (!IsHttps && (Certificate.KeyPath is { Length: > 0 } || Certificate.Password is { Length: > 0 }))
        {
            // A key without its certificate would silently leave the dashboard on plain HTTP.
            throw new ArgumentException($"{DashboardCertificateOptions.SectionName}:KeyPath and :Password need {DashboardCertificateOptions.SectionName}:Path, the certificate.", "Certificate:Path");
        }
    }
}

/// <summary>
/// The dashboard's certificate, bound from <c>Dashboard:Certificate</c> with the names Kestrel gives
/// its own endpoints: a PEM file (with <see cref="KeyPath"/>) or a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>).
/// </summary>
internal sealed class DashboardCertificateOptions
{
    public const string SectionName = DashboardOptions.SectionName + ":Certificate";

    /// <summary>The certificate file; the intermediates after the first PEM certificate are sent with it.</summary>
    public string? Path { get; set; }

    /// <summary>The PEM private key; may be omitted when <see cref="Path"/> holds the key too.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Password of a PKCS#12 file or of an encrypted PEM key.</summary>
    public string? Password { get; set; }
}
