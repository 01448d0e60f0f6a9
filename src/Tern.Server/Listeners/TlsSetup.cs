using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Tern.Server.Listeners;

/// <summary>
/// A TLS listener's certificate, trust store and protocol settings, loaded and checked at startup so
/// that a missing or broken file stops <c>tern start</c> with the key and the path, not the first handshake.
/// </summary>
internal sealed class TlsSetup
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private TlsSetup(X509Certificate2 certificate, X509Certificate2Collection chain)
    {
        Certificate = certificate;
        Chain = chain;
    }

    public X509Certificate2 Certificate { get; }

    public X509Certificate2Collection Chain { get; }

    public X509Certificate2Collection? ClientCas { get; private init; }

    public SslProtocols Protocols { get; private init; }

    public CipherSuitesPolicy? CipherSuites { get; private init; }

    public bool RequireClientCertificate { get; private init; }

    /// <summary>Loads everything <paramref name="options"/> names; throws <see cref="TernConfigurationException"/>.</summary>
    /// <param name="options">The listener's TLS settings.</param>
    /// <param name="section">The listener's configuration section, named in error messages.</param>
    /// <param name="certificateSection">Where the certificate keys were read from (a WSS listener may use the TLS one's).</param>
    public static TlsSetup Load(SecureListenerOptions options, string section, string certificateSection)
    {
        if (string.IsNullOrWhiteSpace(options.CertificateFile))
        {
            throw new TernConfigurationException(
                $"Invalid configuration: {section} is enabled but {certificateSection}:CertificateFile is not set.",
                $"{certificateSection}:CertificateFile");
        }

        X509Certificate2 certificate;
        X509Certificate2Collection chain;
        try
        {
            (certificate, chain) = LoadCertificate(
                options.CertificateFile, options.KeyFile, options.Password,
                $"{certificateSection}:CertificateFile", $"{certificateSection}:KeyFile", $"{certificateSection}:Password");
        }
        catch (TernConfigurationException ex) when (section != certificateSection)
        {
            // A WSS listener on the TLS listener's certificate: say which listener needed it.
            throw new TernConfigurationException($"{ex.Message.TrimEnd('.')} (used by {section}).", ex.Key, ex.InnerException);
        }

        X509Certificate2Collection? cas = null;
        if (!string.IsNullOrWhiteSpace(options.CaFile))
        {
            cas = LoadCas(options.CaFile, $"{section}:CaFile");
        }
        else if (options.RequireClientCertificate)
        {
            throw new TernConfigurationException(
                $"Invalid configuration: {section}:RequireClientCertificate needs {section}:CaFile, the CAs client certificates must chain to.",
                $"{section}:CaFile");
        }

        return new TlsSetup(certificate, chain)
        {
            ClientCas = cas,
            Protocols = ParseProtocols(options.Protocols, $"{section}:Protocols"),
            CipherSuites = ParseCipherSuites(options.CipherSuites, $"{section}:CipherSuites"),
            RequireClientCertificate = options.RequireClientCertificate,
        };
    }

    /// <summary>
    /// A server certificate alone (no client certificates, TLS 1.2 and 1.3), for an HTTPS listener such
    /// as the dashboard's; the keys name where the three values came from, for the error messages.
    /// </summary>
    public static TlsSetup LoadServerCertificate(string certificateFile, string? keyFile, string? password, string certificateKey, string keyKey, string passwordKey)
    {
        var (certificate, chain) = LoadCertificate(certificateFile, keyFile, password, certificateKey, keyKey, passwordKey);
        return new TlsSetup(certificate, chain) { Protocols = SslProtocols.Tls12 | SslProtocols.Tls13 };
    }

    /// <summary>Kestrel's TLS options; <paramref name="onRejected"/> hears why a client certificate was refused.</summary>
    public HttpsConnectionAdapterOptions CreateAdapterOptions(Action<X509Certificate2, string> onRejected)
    {
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = Certificate,
            ServerCertificateChain = Chain.Count > 0 ? Chain : null,
            SslProtocols = Protocols,
            CheckCertificateRevocation = false,
            HandshakeTimeout = TimeSpan.FromSeconds(10),
            ClientCertificateMode = RequireClientCertificate ? ClientCertificateMode.RequireCertificate
                : ClientCas is not null ? ClientCertificateMode.AllowCertificate
                : ClientCertificateMode.NoCertificate,
        };

        if (ClientCas is { } cas)
        {
            // Client certificates chain to the configured CAs only, never to the system's trust store.
            https.ClientCertificateValidation = (certificate, chain, _) => ValidateClient(cas, certificate, chain, onRejected);
        }

        if (CipherSuites is { } policy)
        {
            https.OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = policy;
        }

        return https;
    }

    private static bool ValidateClient(X509Certificate2Collection cas, X509Certificate2 certificate, X509Chain? presented, Action<X509Certificate2, string> onRejected)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        if (presented is not null)
        {
            // Intermediates the client sent with its certificate.
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
        }

        if (chain.Build(certificate))
        {
            return true;
        }

        var reasons = chain.ChainStatus.Select(s => s.Status.ToString()).Distinct(StringComparer.Ordinal);
        onRejected(certificate, string.Join(", ", reasons));
        return false;
    }

    private static (X509Certificate2 Certificate, X509Certificate2Collection Chain) LoadCertificate(
        string certificateFile, string? keyFile, string? password, string certKey, string keyKey, string passwordKey)
    {
        var certPath = RequireFile(certificateFile, certKey);
        var extension = Path.GetExtension(certPath);
        if (extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || extension.Equals(".p12", StringComparison.OrdinalIgnoreCase))
        {
            X509Certificate2Collection all;
            try
            {
                all = X509CertificateLoader.LoadPkcs12CollectionFromFile(certPath, password);
            }
            catch (CryptographicException ex)
            {
                throw Invalid(certKey, $"cannot read the PKCS#12 file {certPath} (wrong {passwordKey}?): {ex.Message}", ex);
            }

            var leaf = all.FirstOrDefault(c => c.HasPrivateKey)
                ?? throw Invalid(certKey, $"{certPath} holds no certificate with a private key");
            all.Remove(leaf);
            return (leaf, all);
        }

        X509Certificate2Collection certificates = [];
        try
        {
            certificates.ImportFromPemFile(certPath);
        }
        catch (CryptographicException ex)
        {
            throw Invalid(certKey, $"{certPath} is not a valid PEM certificate: {ex.Message}", ex);
        }

        if (certificates.Count == 0)
        {
            throw Invalid(certKey, $"{certPath} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        var keyPath = string.IsNullOrWhiteSpace(keyFile) ? certPath : RequireFile(keyFile, keyKey);
        X509Certificate2 certificate;
        try
        {
            var certPem = File.ReadAllText(certPath);
            var keyPem = File.ReadAllText(keyPath);
            certificate = password is { Length: > 0 }
                ? X509Certificate2.CreateFromEncryptedPem(certPem, keyPem, password)
                : X509Certificate2.CreateFromPem(certPem, keyPem);
        }
        catch (CryptographicException ex)
        {
            var reason = keyPath == certPath
                ? $"{certPath} holds no usable private key; set {keyKey}"
                : $"{keyPath} is not a valid PEM private key for {certPath}";
            throw Invalid(keyKey, $"{reason}: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw Invalid(keyKey, $"{keyPath} holds no PEM private key: {ex.Message}", ex);
        }

        // The first certificate of the file is the server's; the rest (intermediates) are sent with it.
        certificates.RemoveAt(0);
        return (certificate, certificates);
    }

    private static X509Certificate2Collection LoadCas(string file, string key)
    {
        var path = RequireFile(file, key);
        X509Certificate2Collection cas = [];
        try
        {
            cas.ImportFromPemFile(path);
        }
        catch (CryptographicException ex)
        {
            throw Invalid(key, $"{path} is not a valid PEM certificate bundle: {ex.Message}", ex);
        }

        return cas.Count > 0 ? cas : throw Invalid(key, $"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }

    private static SslProtocols ParseProtocols(string[]? names, string key)
    {
        if (names is null || names.Length == 0)
        {
            return SslProtocols.Tls12 | SslProtocols.Tls13;
        }

        var protocols = SslProtocols.None;
        foreach (var name in names)
        {
            protocols |= name.Trim().Replace("v", "", StringComparison.OrdinalIgnoreCase).Replace(".", "", StringComparison.Ordinal).ToUpperInvariant() switch
            {
                "TLS12" => SslProtocols.Tls12,
                "TLS13" => SslProtocols.Tls13,
                _ => throw Invalid(key, $"'{name}' is not a supported TLS version; use Tls12 and/or Tls13"),
            };
        }

        return protocols;
    }

    private static CipherSuitesPolicy? ParseCipherSuites(string[]? names, string key)
    {
        if (names is null || names.Length == 0)
        {
            return null;
        }

        var suites = new List<TlsCipherSuite>();
        foreach (var name in names)
        {
            if (!Enum.TryParse<TlsCipherSuite>(name.Trim(), ignoreCase: true, out var suite) || int.TryParse(name, out _))
            {
                throw Invalid(key, $"'{name}' is not a TLS cipher suite name such as TLS_AES_128_GCM_SHA256");
            }

            suites.Add(suite);
        }

        if (OperatingSystem.IsWindows())
        {
            throw Invalid(key, "cipher suites cannot be configured on Windows (the system's policy applies)");
        }

        return new CipherSuitesPolicy(suites);
    }

    private static string RequireFile(string file, string key)
    {
        var path = Path.GetFullPath(file);
        return File.Exists(path) ? path : throw Invalid(key, $"file not found: {path}");
    }

    private static TernConfigurationException Invalid(string key, string reason, Exception? inner = null)
        => new($"Invalid configuration: {key}: {reason}.", key, inner);
}
