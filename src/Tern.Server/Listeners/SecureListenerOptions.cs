namespace Tern.Server.Listeners;

/// <summary>Which part of a client certificate becomes the user name with <c>PeerCertAsUsername</c>.</summary>
public enum PeerCertUsernameSource
{
    /// <summary>The subject's common name (CN), as Mosquitto's <c>use_identity_as_username</c>.</summary>
    CommonName,

    /// <summary>The first DNS name, else the first e-mail address, of the subject alternative names.</summary>
    SubjectAltName,
}

/// <summary>Keys every TLS-carrying listener (<c>Listeners:Tls</c>, <c>Listeners:Wss</c>) shares.</summary>
internal abstract class SecureListenerOptions
{
    /// <summary>On or off; unset means on exactly when a certificate is configured.</summary>
    public bool? Enabled { get; set; }

    public string Address { get; set; } = "0.0.0.0";

    public abstract int Port { get; set; }

    public bool ProxyProtocol { get; set; }

    /// <summary>Server certificate: a PEM file (with <see cref="KeyFile"/>) or a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>, with <see cref="Password"/>).</summary>
    public string? CertificateFile { get; set; }

    /// <summary>PEM private key of <see cref="CertificateFile"/>; may be omitted when the certificate file holds the key too.</summary>
    public string? KeyFile { get; set; }

    /// <summary>Password of a PKCS#12 file or of an encrypted PEM key.</summary>
    public string? Password { get; set; }

    /// <summary>TLS versions: <c>Tls12</c>, <c>Tls13</c>; unset means both.</summary>
    public string[]? Protocols { get; set; }

    /// <summary>Allowed cipher suites by IANA name (<c>TLS_AES_128_GCM_SHA256</c>); unset means the system's defaults.</summary>
    public string[]? CipherSuites { get; set; }

    /// <summary>Mutual TLS: a client without a certificate that chains to <see cref="CaFile"/> is refused.</summary>
    public bool RequireClientCertificate { get; set; }

    /// <summary>PEM bundle of the CAs that client certificates must chain to.</summary>
    public string? CaFile { get; set; }

    /// <summary>The client certificate's identity replaces the CONNECT user name.</summary>
    public bool PeerCertAsUsername { get; set; }

    public PeerCertUsernameSource PeerCertUsernameFrom { get; set; } = PeerCertUsernameSource.CommonName;

    public bool IsEnabled => Enabled ?? !string.IsNullOrWhiteSpace(CertificateFile);

    public void Validate(string section)
    {
        ListenerAddress.Validate(section, Address, Port);
        if (PeerCertAsUsername && !RequireClientCertificate)
        {
            // Without a required certificate the user name would silently fall back to the CONNECT one.
            throw new ArgumentException(
                $"{section}:{nameof(PeerCertAsUsername)} needs {section}:{nameof(RequireClientCertificate)}=true.",
                nameof(PeerCertAsUsername));
        }
    }
}

/// <summary>MQTT over TLS, bound from <c>Listeners:Tls</c>.</summary>
internal sealed class TlsListenerOptions : SecureListenerOptions
{
    public const string SectionName = "Listeners:Tls";

    public override int Port { get; set; } = 8883;
}

/// <summary>MQTT over WebSocket, bound from <c>Listeners:Ws</c>.</summary>
internal sealed class WsListenerOptions
{
    public const string SectionName = "Listeners:Ws";

    public bool Enabled { get; set; } = true;

    public string Address { get; set; } = "0.0.0.0";

    public int Port { get; set; } = 8083;

    public string Path { get; set; } = "/mqtt";

    public bool ProxyProtocol { get; set; }

    public void Validate()
    {
        ListenerAddress.Validate(SectionName, Address, Port);
        WebSocketPath.Validate(SectionName, Path);
    }
}

/// <summary>
/// MQTT over secure WebSocket, bound from <c>Listeners:Wss</c>. Certificate keys left unset here are
/// taken from <c>Listeners:Tls</c>, so one certificate serves both.
/// </summary>
internal sealed class WssListenerOptions : SecureListenerOptions
{
    public const string SectionName = "Listeners:Wss";

    public override int Port { get; set; } = 8084;

    public string Path { get; set; } = "/mqtt";

    /// <summary>Takes the certificate keys this section leaves unset from <paramref name="tls"/>.</summary>
    public void InheritCertificate(TlsListenerOptions tls)
    {
        if (string.IsNullOrWhiteSpace(CertificateFile))
        {
            CertificateFile = tls.CertificateFile;
            KeyFile ??= tls.KeyFile;
            Password ??= tls.Password;
            InheritedCertificate = CertificateFile is not null;
        }
    }

    /// <summary>The certificate keys came from <c>Listeners:Tls</c> (error messages name that section).</summary>
    public bool InheritedCertificate { get; private set; }
}

internal static class WebSocketPath
{
    public static void Validate(string section, string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/' || path.Contains('?', StringComparison.Ordinal) || path.Contains('#', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{section}:Path must be a URL path starting with '/', such as /mqtt, not '{path}'.", "Path");
        }
    }
}
