using System.Security.Authentication;
using Tern.Client;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Transports.Tests;

/// <summary>MQTT over TLS (<c>Listeners:Tls</c>): server certificate from PEM, mutual TLS, certificate user names.</summary>
public sealed class TlsListenerTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Tls_listener_is_listed_and_answers_connect_over_tls()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings());
        Assert.True(broker.Server.TlsPort > 0);
        Assert.Contains($"mqtts://127.0.0.1:{broker.Server.TlsPort}", broker.Server.ListeningOn);

        await using var client = await TlsTestClient.ConnectAsync(broker.Server.TlsPort, _pki.CaPem);
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, await client.ConnectMqttAsync("tls-raw"));
        await broker.Log.WaitForAsync("Client tls-raw connected from 127.0.0.1");
    }

    [Theory]
    [InlineData("Tls12", SslProtocols.Tls12)]
    [InlineData("Tls13", SslProtocols.Tls13)]
    public async Task Protocols_limits_the_tls_versions(string configured, SslProtocols expected)
    {
        var settings = _pki.TlsSettings();
        settings["Listeners:Tls:Protocols:0"] = configured;
        await using var broker = await TransportBroker.StartAsync(settings);

        await using var client = await TlsTestClient.ConnectAsync(broker.Server.TlsPort, _pki.CaPem);
        Assert.Equal(expected, client.Stream.SslProtocol);
        var other = expected == SslProtocols.Tls12 ? SslProtocols.Tls13 : SslProtocols.Tls12;
        await Assert.ThrowsAnyAsync<Exception>(() => TlsTestClient.ConnectAsync(broker.Server.TlsPort, _pki.CaPem, protocols: other));
    }

    [Fact]
    public async Task Tern_client_round_trips_over_mqtts()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings());
        var topic = $"tls/{Guid.NewGuid():N}";
        await using var client = new MqttClient(new MqttClientOptions
        {
            Uri = $"mqtts://127.0.0.1:{broker.Server.TlsPort}",
            ServerCertificatePem = _pki.CaPem,
            AutoReconnect = false,
        });
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Data += (_, e) => received.TrySetResult(e.Message.PayloadText);
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, _) => connected.TrySetResult();

        await client.StartAsync();
        await connected.Task.WaitAsync(TestTimeouts.Receive);
        await client.SubscribeAsync(topic, MqttQoS.AtLeastOnce).WaitAsync(TestTimeouts.Receive);
        await client.PublishAsync(topic, "over tls", MqttQoS.AtLeastOnce).WaitAsync(TestTimeouts.Receive);
        Assert.Equal("over tls", await received.Task.WaitAsync(TestTimeouts.Receive));
    }

    [Fact]
    public async Task Mutual_tls_accepts_a_client_certificate_from_the_ca_and_uses_its_cn_as_user_name()
    {
        var settings = _pki.TlsSettings(mutual: true);
        settings["Listeners:Tls:PeerCertAsUsername"] = "true";
        await using var broker = await TransportBroker.StartAsync(settings);

        await using var client = await TlsTestClient.ConnectAsync(broker.Server.TlsPort, _pki.CaPem, _pki.ClientCertPem, _pki.ClientKeyPem);
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, await client.ConnectMqttAsync("mtls-1"));
        var line = await broker.Log.WaitForAsync("client certificate 'CN=tern-device-1");
        Assert.Contains($"user name '{TestPki.ClientName}'", line, StringComparison.Ordinal);
        Assert.Contains("on tls", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Peer_cert_username_can_come_from_the_subject_alternative_name()
    {
        var settings = _pki.TlsSettings(mutual: true);
        settings["Listeners:Tls:PeerCertAsUsername"] = "true";
        settings["Listeners:Tls:PeerCertUsernameFrom"] = "SubjectAltName";
        await using var broker = await TransportBroker.StartAsync(settings);

        await using var client = await TlsTestClient.ConnectAsync(broker.Server.TlsPort, _pki.CaPem, _pki.ClientCertPem, _pki.ClientKeyPem);
        Assert.NotNull(await client.ConnectMqttAsync("mtls-san"));
        await broker.Log.WaitForAsync("user name 'device-1.example.com'");
    }

    [Fact]
    public async Task Tern_client_with_client_certificate_connects_to_mutual_tls()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings(mutual: true));
        await using var client = new MqttClient(new MqttClientOptions
        {
            Uri = $"mqtts://127.0.0.1:{broker.Server.TlsPort}",
            ServerCertificatePem = _pki.CaPem,
            ClientCertificatePem = _pki.ClientCertPem,
            ClientKeyPem = _pki.ClientKeyPem,
            AutoReconnect = false,
        });
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, _) => connected.TrySetResult();
        await client.StartAsync();
        await connected.Task.WaitAsync(TestTimeouts.Receive);
    }

    [Fact]
    public async Task Mutual_tls_refuses_a_client_without_certificate()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings(mutual: true));
        await ExpectRefusedAsync(broker, null, null);
    }

    [Fact]
    public async Task Mutual_tls_refuses_a_certificate_from_another_ca()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings(mutual: true));
        await ExpectRefusedAsync(broker, _pki.OtherCaClientCertPem, _pki.OtherCaClientKeyPem);
        await broker.Log.WaitForAsync("TLS client certificate 'CN=stranger' refused on tls");
    }

    [Fact]
    public async Task Mutual_tls_refuses_an_expired_certificate()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings(mutual: true));
        await ExpectRefusedAsync(broker, _pki.ExpiredCertPem, _pki.ExpiredKeyPem);
        var line = await broker.Log.WaitForAsync("TLS client certificate 'CN=expired-device' refused");
        Assert.Contains("NotTimeValid", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pkcs12_certificate_with_password_works()
    {
        var pfx = Path.Combine(_pki.Directory, "server.pfx");
        using (var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(_pki.ServerCertPem, _pki.ServerKeyPem))
        {
            File.WriteAllBytes(pfx, pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12, "s3cret"));
        }

        var settings = _pki.TlsSettings();
        settings.Remove("Listeners:Tls:KeyFile");
        settings["Listeners:Tls:CertificateFile"] = pfx;
        settings["Listeners:Tls:Password"] = "s3cret";
        await using var broker = await TransportBroker.StartAsync(settings);

        await using var client = await TlsTestClient.ConnectAsync(broker.Server.TlsPort, _pki.CaPem);
        Assert.NotNull(await client.ConnectMqttAsync("pfx"));
    }

    private async Task ExpectRefusedAsync(TransportBroker broker, string? certPem, string? keyPem)
    {
        // With TLS 1.3 the client finishes its handshake before the server has checked the
        // certificate; the refusal then shows as a failed read instead of a failed handshake.
        TlsTestClient client;
        try
        {
            client = await TlsTestClient.ConnectAsync(broker.Server.TlsPort, _pki.CaPem, certPem, keyPem);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return;
        }

        await using (client)
        {
            Assert.Null(await client.ConnectMqttAsync("refused"));
        }
    }
}
