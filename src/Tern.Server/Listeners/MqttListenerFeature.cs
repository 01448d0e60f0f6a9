using System.Security.Cryptography.X509Certificates;

namespace Tern.Server.Listeners;

/// <summary>
/// Set on every connection by the listener it arrived on, so the one shared connection handler (and
/// the WebSocket endpoint) know the listener's name and how to treat client certificates.
/// </summary>
internal sealed class MqttListenerFeature(string name, bool peerCertAsUsername, PeerCertUsernameSource usernameFrom)
{
    public string Name { get; } = name;

    public bool PeerCertAsUsername { get; } = peerCertAsUsername;

    public PeerCertUsernameSource UsernameFrom { get; } = usernameFrom;

    /// <summary>The user name a validated client certificate vouches for, or null when the listener does not use one.</summary>
    public string? UsernameFor(X509Certificate2? certificate)
    {
        if (!PeerCertAsUsername || certificate is null)
        {
            return null;
        }

        return UsernameFrom == PeerCertUsernameSource.CommonName ? CommonName(certificate) : SubjectAltName(certificate);
    }

    private static string? CommonName(X509Certificate2 certificate)
    {
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.GetSingleElementType().Value == "2.5.4.3" && rdn.GetSingleElementValue() is { Length: > 0 } cn)
            {
                return cn;
            }
        }

        return null;
    }

    private static string? SubjectAltName(X509Certificate2 certificate)
    {
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                foreach (var dns in san.EnumerateDnsNames())
                {
                    return dns;
                }
            }
        }

        // EmailName reads the rfc822Name SAN first (it falls back to the subject's e-mail attribute).
        var email = certificate.GetNameInfo(X509NameType.EmailName, forIssuer: false);
        return string.IsNullOrEmpty(email) ? null : email;
    }
}
