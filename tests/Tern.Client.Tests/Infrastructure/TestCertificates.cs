using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tern.Client.Tests;

/// <summary>A throwaway PKI made at test time: a CA, a server certificate for 127.0.0.1/localhost, a client certificate.</summary>
public sealed class TestCertificates
{
    private TestCertificates()
    {
    }

    public string CaPem { get; private init; } = "";
    public string ServerCertPem { get; private init; } = "";
    public string ServerKeyPem { get; private init; } = "";
    public string ClientCertPem { get; private init; } = "";
    public string ClientKeyPem { get; private init; } = "";

    public static TestCertificates Create(string name = "Tern Test CA")
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN={name}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(7));

        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        var (serverCert, serverKey) = Issue(ca, "CN=localhost", "1.3.6.1.5.5.7.3.1", san.Build(), now);
        var (clientCert, clientKey) = Issue(ca, "CN=tern-test-client", "1.3.6.1.5.5.7.3.2", null, now);
        return new TestCertificates
        {
            CaPem = ca.ExportCertificatePem(),
            ServerCertPem = serverCert,
            ServerKeyPem = serverKey,
            ClientCertPem = clientCert,
            ClientKeyPem = clientKey,
        };
    }

    private static (string Cert, string Key) Issue(X509Certificate2 ca, string subject, string usageOid, X509Extension? san, DateTimeOffset now)
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

        using var cert = request.Create(ca, now.AddDays(-1), now.AddDays(7), RandomNumberGenerator.GetBytes(8));
        return (cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
