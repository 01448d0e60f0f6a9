using Tern.Server;

namespace Tern.Transports.Tests;

/// <summary>Listener configuration errors stop startup with the key and the file.</summary>
public sealed class ListenerConfigurationTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public void Missing_certificate_file_names_the_key_and_the_path()
    {
        var missing = Path.Combine(_pki.Directory, "nope.pem");
        var ex = Create(new() { ["Listeners:Tls:CertificateFile"] = missing, ["Listeners:Tls:KeyFile"] = _pki.ServerKeyFile });
        Assert.Equal("Listeners:Tls:CertificateFile", ex.Key);
        Assert.Contains("Listeners:Tls:CertificateFile", ex.Message, StringComparison.Ordinal);
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_pem_certificate_names_the_key_and_the_path()
    {
        var bad = Path.Combine(_pki.Directory, "bad.pem");
        File.WriteAllText(bad, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
        var ex = Create(new() { ["Listeners:Tls:CertificateFile"] = bad, ["Listeners:Tls:KeyFile"] = _pki.ServerKeyFile });
        Assert.Equal("Listeners:Tls:CertificateFile", ex.Key);
        Assert.Contains(bad, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_without_any_certificate_names_the_key()
    {
        var empty = Path.Combine(_pki.Directory, "empty.pem");
        File.WriteAllText(empty, "hello\n");
        var ex = Create(new() { ["Listeners:Tls:CertificateFile"] = empty, ["Listeners:Tls:KeyFile"] = _pki.ServerKeyFile });
        Assert.Equal("Listeners:Tls:CertificateFile", ex.Key);
        Assert.Contains(empty, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_that_does_not_match_names_the_key_file()
    {
        var ex = Create(new() { ["Listeners:Tls:CertificateFile"] = _pki.ServerCertFile, ["Listeners:Tls:KeyFile"] = _pki.ClientKeyFile });
        Assert.Equal("Listeners:Tls:KeyFile", ex.Key);
        Assert.Contains(_pki.ClientKeyFile, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_key_file_names_the_key()
    {
        var missing = Path.Combine(_pki.Directory, "nope.key");
        var ex = Create(new() { ["Listeners:Tls:CertificateFile"] = _pki.ServerCertFile, ["Listeners:Tls:KeyFile"] = missing });
        Assert.Equal("Listeners:Tls:KeyFile", ex.Key);
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Enabled_tls_without_certificate_names_the_certificate_key()
    {
        var ex = Create(new() { ["Listeners:Tls:Enabled"] = "true" });
        Assert.Equal("Listeners:Tls:CertificateFile", ex.Key);
    }

    [Fact]
    public void Wss_inherits_the_tls_certificate_and_errors_name_the_tls_key()
    {
        var missing = Path.Combine(_pki.Directory, "nope.pem");
        var ex = Create(new() { ["Listeners:Tls:CertificateFile"] = missing, ["Listeners:Tls:Enabled"] = "false" });
        Assert.Equal("Listeners:Tls:CertificateFile", ex.Key);
        Assert.Contains("Listeners:Wss", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Require_client_certificate_needs_a_ca_file()
    {
        var ex = Create(new()
        {
            ["Listeners:Tls:CertificateFile"] = _pki.ServerCertFile,
            ["Listeners:Tls:KeyFile"] = _pki.ServerKeyFile,
            ["Listeners:Tls:RequireClientCertificate"] = "true",
        });
        Assert.Equal("Listeners:Tls:CaFile", ex.Key);
    }

    [Fact]
    public void Peer_cert_as_username_needs_required_client_certificates()
    {
        var ex = Create(new()
        {
            ["Listeners:Tls:CertificateFile"] = _pki.ServerCertFile,
            ["Listeners:Tls:KeyFile"] = _pki.ServerKeyFile,
            ["Listeners:Tls:PeerCertAsUsername"] = "true",
        });
        Assert.Equal("Listeners:Tls:PeerCertAsUsername", ex.Key);
    }

    [Theory]
    [InlineData("Listeners:Tls:Protocols:0", "Ssl3", "Listeners:Tls:Protocols")]
    [InlineData("Listeners:Tls:CipherSuites:0", "TLS_NOPE", "Listeners:Tls:CipherSuites")]
    [InlineData("Listeners:Ws:Path", "mqtt", "Listeners:Ws:Path")]
    [InlineData("Listeners:Ws:Port", "70000", "Listeners:Ws:Port")]
    [InlineData("Listeners:Tcp:Transport", "Libuv", "Listeners:Tcp:Transport")]
    [InlineData("Listeners:Tcp:Backlog", "0", "Listeners:Tcp:Backlog")]
    public void Bad_values_name_their_key(string key, string value, string expectedKey)
    {
        var ex = Create(new()
        {
            ["Listeners:Tls:CertificateFile"] = _pki.ServerCertFile,
            ["Listeners:Tls:KeyFile"] = _pki.ServerKeyFile,
            [key] = value,
        });
        Assert.Equal(expectedKey, ex.Key);
    }

    [Fact]
    public async Task Defaults_list_every_listener_when_a_certificate_is_configured()
    {
        await using var server = TernServer.Create(overrides: new Dictionary<string, string?>
        {
            ["Listeners:Tls:CertificateFile"] = _pki.ServerCertFile,
            ["Listeners:Tls:KeyFile"] = _pki.ServerKeyFile,
        });
        Assert.Equal(["mqtt://0.0.0.0:1883", "mqtts://0.0.0.0:8883", "ws://0.0.0.0:8083/mqtt", "wss://0.0.0.0:8084/mqtt"], server.ListeningOn);
    }

    private static TernConfigurationException Create(Dictionary<string, string?> overrides)
        => Assert.Throws<TernConfigurationException>(() => TernServer.Create(args: [], overrides: overrides));
}
