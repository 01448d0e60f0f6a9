using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Tern.Client;

/// <summary>
/// Builds TLS trust and client credentials from the PEM options. The validation callback records
/// why a certificate was refused so the Error event can say it (SslStream only throws a generic message).
/// </summary>
internal sealed class TlsSettings
{
    private readonly X509Certificate2Collection? _trustedRoots;
    private readonly bool _skipNameCheck;
    private readonly bool _allowUntrusted;

    public TlsSettings(MqttClientOptions options)
    {
        _skipNameCheck = options.SkipCertificateCommonNameCheck;
        _allowUntrusted = options.AllowUntrustedCertificates;
        if (!string.IsNullOrWhiteSpace(options.ServerCertificatePem))
        {
            _trustedRoots = new X509Certificate2Collection();
            _trustedRoots.ImportFromPem(options.ServerCertificatePem);
        }

        if (!string.IsNullOrWhiteSpace(options.ClientCertificatePem))
        {
            if (string.IsNullOrWhiteSpace(options.ClientKeyPem))
            {
                throw new ArgumentException("ClientCertificatePem needs ClientKeyPem.", nameof(options));
            }

            using var ephemeral = X509Certificate2.CreateFromPem(options.ClientCertificatePem, options.ClientKeyPem);
            // A PEM key is ephemeral; SslStream needs a key it can use from its own context, so
            // round-trip through PKCS#12 (needed on Windows, harmless on Linux).
            ClientCertificates = [X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null)];
        }
    }

    public X509Certificate2Collection? ClientCertificates { get; }

    /// <summary>Why the last server certificate was refused, or null.</summary>
    public string? LastFailure { get; private set; }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (_allowUntrusted)
        {
            return true;
        }

        if (certificate is null)
        {
            LastFailure = "The server sent no certificate.";
            return false;
        }

        if (!_skipNameCheck && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            LastFailure = $"The server certificate '{certificate.Subject}' does not match the host name.";
            return false;
        }

        if (_trustedRoots is null)
        {
            bool ok = (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
            LastFailure = ok ? null : $"The server certificate '{certificate.Subject}' is not trusted: {errors}.";
            return ok;
        }

        return ValidateAgainstCustomRoots(certificate, chain);
    }

    private bool ValidateAgainstCustomRoots(X509Certificate certificate, X509Chain? presented)
    {
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_trustedRoots!);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            // Intermediates the server sent along.
            foreach (X509ChainElement element in presented.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using X509Certificate2? copy = certificate is X509Certificate2 ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        bool ok = custom.Build(copy ?? (X509Certificate2)certificate);
        if (!ok)
        {
            string status = string.Join("; ", custom.ChainStatus.Select(s => s.StatusInformation.Trim()));
            LastFailure = $"The server certificate '{certificate.Subject}' does not chain to ServerCertificatePem: {status}";
        }
        else
        {
            LastFailure = null;
        }

        return ok;
    }
}
