using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tern.Transports.Tests;

/// <summary>
/// A throwaway PKI made at test time and written as PEM files to a temporary directory: a CA, a
/// server certificate for 127.0.0.1/localhost, a client certificate, an expired client certificate,
/// and a client certificate from another CA.
/// </summary>
public sealed class TestPki : IDisposable
{
    public const string ClientName = "tern-device-1";

    public TestPki()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("tern-pki-").FullName;
        var now = DateTimeOffset.UtcNow;
        using var ca = CreateCa("Tern Test CA", now);
        using var otherCa = CreateCa("Other CA", now);
        CaPem = Write("ca.pem", ca.ExportCertificatePem());

        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        (ServerCertPem, ServerKeyPem) = Issue(ca, "CN=localhost", "1.3.6.1.5.5.7.3.1", san.Build(), now.AddDays(-1), now.AddDays(7), "server");

        var clientSan = new SubjectAlternativeNameBuilder();
        clientSan.AddDnsName("device-1.example.com");
        (ClientCertPem, ClientKeyPem) = Issue(ca, $"CN={ClientName}, O=Tern Tests", "1.3.6.1.5.5.7.3.2", clientSan.Build(), now.AddDays(-1), now.AddDays(7), "client");
        (ExpiredCertPem, ExpiredKeyPem) = Issue(ca, "CN=expired-device", "1.3.6.1.5.5.7.3.2", null, now.AddDays(-10), now.AddDays(-2), "expired");
        (OtherCaClientCertPem, OtherCaClientKeyPem) = Issue(otherCa, "CN=stranger", "1.3.6.1.5.5.7.3.2", null, now.AddDays(-1), now.AddDays(7), "stranger");
    }

    public string Directory { get; }

    public string CaPem { get; }

    public string ServerCertPem { get; }

    public string ServerKeyPem { get; }

    public string ClientCertPem { get; }

    public string ClientKeyPem { get; }

    public string ExpiredCertPem { get; }

    public string ExpiredKeyPem { get; }

    public string OtherCaClientCertPem { get; }

    public string OtherCaClientKeyPem { get; }

    public string CaFile => Path.Combine(Directory, "ca.pem");

    public string ServerCertFile => Path.Combine(Directory, "server.pem");

    public string ServerKeyFile => Path.Combine(Directory, "server.key");

    public string ClientCertFile => Path.Combine(Directory, "client.pem");

    public string ClientKeyFile => Path.Combine(Directory, "client.key");

    public string ExpiredCertFile => Path.Combine(Directory, "expired.pem");

    public string ExpiredKeyFile => Path.Combine(Directory, "expired.key");

    public string OtherCaClientCertFile => Path.Combine(Directory, "stranger.pem");

    public string OtherCaClientKeyFile => Path.Combine(Directory, "stranger.key");

    /// <summary>Broker settings for a TLS listener (and, with <paramref name="wss"/>, a WSS one) on 127.0.0.1, port 0.</summary>
    public Dictionary<string, string?> TlsSettings(bool mutual = false, bool wss = false)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Listeners:Tls:Address"] = "127.0.0.1",
            ["Listeners:Tls:Port"] = "0",
            ["Listeners:Tls:CertificateFile"] = ServerCertFile,
            ["Listeners:Tls:KeyFile"] = ServerKeyFile,
            ["Listeners:Wss:Enabled"] = wss ? "true" : "false",
            ["Listeners:Wss:Address"] = "127.0.0.1",
            ["Listeners:Wss:Port"] = "0",
        };
        if (mutual)
        {
            settings["Listeners:Tls:RequireClientCertificate"] = "true";
            settings["Listeners:Tls:CaFile"] = CaFile;
        }

        return settings;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    private string Write(string name, string pem)
    {
        File.WriteAllText(Path.Combine(Directory, name), pem);
        return pem;
    }

    private static X509Certificate2 CreateCa(string name, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddDays(-30), now.AddDays(30));
    }

    private (string Cert, string Key) Issue(
        X509Certificate2 ca, string subject, string usageOid, X509Extension? san, DateTimeOffset notBefore, DateTimeOffset notAfter, string fileName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usageOid)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }

        using var cert = request.Create(ca, notBefore, notAfter, RandomNumberGenerator.GetBytes(8));
        return (Write($"{fileName}.pem", cert.ExportCertificatePem()), Write($"{fileName}.key", key.ExportPkcs8PrivateKeyPem()));
    }
}
