using Tern.Protocol;

namespace Tern.Client.Tests;

/// <summary>Mosquitto with a TLS listener and a mutual-TLS listener, certificates made at test time.</summary>
public sealed class TlsFixture : IAsyncLifetime
{
    public TlsFixture()
    {
        Certificates = TestCertificates.Create();
        Directory = System.IO.Directory.CreateTempSubdirectory("tern-tls-").FullName;
        File.WriteAllText(Path.Combine(Directory, "ca.pem"), Certificates.CaPem);
        File.WriteAllText(Path.Combine(Directory, "server.pem"), Certificates.ServerCertPem);
        File.WriteAllText(Path.Combine(Directory, "server.key"), Certificates.ServerKeyPem);
        TlsPort = MosquittoBroker.FreePort();
        MutualTlsPort = MosquittoBroker.FreePort();
        string files = $"cafile {Directory}/ca.pem\ncertfile {Directory}/server.pem\nkeyfile {Directory}/server.key\n";
        Broker = new MosquittoBroker(
            $"listener {TlsPort} 127.0.0.1\n{files}listener {MutualTlsPort} 127.0.0.1\n{files}require_certificate true\n");
    }

    public TestCertificates Certificates { get; }

    public string Directory { get; }

    public int TlsPort { get; }

    public int MutualTlsPort { get; }

    public MosquittoBroker Broker { get; }

    public async Task InitializeAsync()
    {
        await Broker.StartAsync();
        await MosquittoBroker.WaitForPortAsync(TlsPort);
        await MosquittoBroker.WaitForPortAsync(MutualTlsPort);
    }

    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

public sealed class TlsTests(TlsFixture tls) : IClassFixture<TlsFixture>
{
    [Fact]
    public async Task Mqtts_with_server_certificate_pem_connects_and_round_trips()
    {
        string topic = TestClient.UniqueTopic("tls");
        await using var c = await TestClient.ConnectAsync($"mqtts://127.0.0.1:{tls.TlsPort}", o => o.ServerCertificatePem = tls.Certificates.CaPem);
        await c.SubscribeAsync(topic, MqttQoS.AtLeastOnce);
        await c.Client.PublishAsync(topic, "secret", MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        var data = await c.Events.WaitAsync<DataEventArgs>(e => e.Topic == topic);
        Assert.Equal("secret", data.Message.PayloadText);
    }

    [Fact]
    public async Task Transport_option_overrides_the_scheme()
    {
        await using var c = await TestClient.ConnectAsync($"mqtt://localhost:{tls.TlsPort}", o =>
        {
            o.Transport = MqttTransport.Ssl;
            o.ServerCertificatePem = tls.Certificates.CaPem;
        });
        Assert.Equal(MqttClientState.Connected, c.Client.State);
    }

    [Fact]
    public async Task Mutual_tls_with_client_certificate_and_key_pem_connects()
    {
        await using var c = await TestClient.ConnectAsync($"mqtts://127.0.0.1:{tls.MutualTlsPort}", o =>
        {
            o.ServerCertificatePem = tls.Certificates.CaPem;
            o.ClientCertificatePem = tls.Certificates.ClientCertPem;
            o.ClientKeyPem = tls.Certificates.ClientKeyPem;
        });
        Assert.Equal(MqttClientState.Connected, c.Client.State);
    }

    [Fact]
    public async Task Mutual_tls_listener_refuses_a_client_without_certificate()
    {
        await using var c = TestClient.For($"mqtts://127.0.0.1:{tls.MutualTlsPort}", o =>
        {
            o.ServerCertificatePem = tls.Certificates.CaPem;
            o.AutoReconnect = false;
        });
        await c.Client.StartAsync();
        var error = await c.Events.WaitAsync<MqttErrorEventArgs>();
        Assert.Contains(error.ErrorType, new[] { MqttErrorType.Tls, MqttErrorType.TcpTransport });
        Assert.Empty(c.Events.All<ConnectedEventArgs>());
    }

    [Fact]
    public async Task Untrusted_server_certificate_gives_a_Tls_Error()
    {
        var stranger = TestCertificates.Create("Some Other CA");
        await using var c = TestClient.For($"mqtts://127.0.0.1:{tls.TlsPort}", o =>
        {
            o.ServerCertificatePem = stranger.CaPem;
            o.AutoReconnect = false;
        });
        await c.Client.StartAsync();
        var error = await c.Events.WaitAsync<MqttErrorEventArgs>();
        Assert.Equal(MqttErrorType.Tls, error.ErrorType);
        Assert.IsType<MqttTlsException>(error.Exception);
        Assert.Contains("ServerCertificatePem", error.Message, StringComparison.Ordinal);
        Assert.Empty(c.Events.All<ConnectedEventArgs>());
    }

    [Fact]
    public async Task System_store_does_not_trust_a_private_ca_unless_told_to()
    {
        await using var strict = TestClient.For($"mqtts://127.0.0.1:{tls.TlsPort}", o => o.AutoReconnect = false);
        await strict.Client.StartAsync();
        Assert.Equal(MqttErrorType.Tls, (await strict.Events.WaitAsync<MqttErrorEventArgs>()).ErrorType);

        await using var lax = await TestClient.ConnectAsync($"mqtts://127.0.0.1:{tls.TlsPort}", o => o.AllowUntrustedCertificates = true);
        Assert.Equal(MqttClientState.Connected, lax.Client.State);
    }
}
