using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Tern.TestKit;

namespace Tern.Transports.Tests;

/// <summary>A raw MQTT-over-TLS connection (SslStream) that trusts only the test CA.</summary>
public sealed class TlsTestClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;

    private TlsTestClient(TcpClient tcp, SslStream stream)
    {
        _tcp = tcp;
        Stream = stream;
    }

    public SslStream Stream { get; }

    /// <summary>Connects and completes the TLS handshake (the server's verdict on a client certificate may come later, with TLS 1.3).</summary>
    public static async Task<TlsTestClient> ConnectAsync(int port, string caPem, string? certPem = null, string? keyPem = null, SslProtocols protocols = SslProtocols.None)
    {
        var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        await tcp.ConnectAsync(IPAddress.Loopback, port, cts.Token);
        var ca = X509Certificate2.CreateFromPem(caPem);
        var stream = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocols,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => ChainsTo(ca, certificate),
        };
        if (certPem is not null && keyPem is not null)
        {
            // An ephemeral PEM key cannot be sent by SslStream on every platform; a PKCS#12 round trip can.
            using var pem = X509Certificate2.CreateFromPem(certPem, keyPem);
            options.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }

        try
        {
            await stream.AuthenticateAsClientAsync(options, cts.Token);
        }
        catch
        {
            await stream.DisposeAsync();
            tcp.Dispose();
            throw;
        }

        return new TlsTestClient(tcp, stream);
    }

    /// <summary>Sends an MQTT 3.1.1 CONNECT and returns the CONNACK bytes, or null when the server closed the connection instead.</summary>
    public async Task<byte[]?> ConnectMqttAsync(string clientId)
    {
        using var cts = new CancellationTokenSource(TestTimeouts.Receive);
        try
        {
            await Stream.WriteAsync(RawPackets.Connect(clientId), cts.Token);
            var connAck = new byte[4];
            var read = 0;
            while (read < connAck.Length)
            {
                var n = await Stream.ReadAsync(connAck.AsMemory(read), cts.Token);
                if (n == 0)
                {
                    return null;
                }

                read += n;
            }

            return connAck;
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException or SocketException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        _tcp.Dispose();
    }

    private static bool ChainsTo(X509Certificate2 ca, X509Certificate? certificate)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    }
}
