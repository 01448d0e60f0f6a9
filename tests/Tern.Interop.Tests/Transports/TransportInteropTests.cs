using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Protocol;
using Tern.Interop.Tests.MqttNet;
using Tern.TestKit;
using Tern.Transports.Tests;

namespace Tern.Interop.Tests.Transports;

/// <summary>
/// Third-party clients over Tern's TLS and WebSocket listeners: mosquitto_pub/_sub (TLS, mutual
/// TLS), MQTT.js in Node (WS, WSS) and the MQTTnet WebSocket client (WS, WSS).
/// </summary>
public sealed class TransportInteropTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Mosquitto_clients_round_trip_over_tls_with_the_ca()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings());
        var topic = TestIds.Topic();
        string[] tls = ["-h", "127.0.0.1", "-p", Port(broker.Server.TlsPort), "--cafile", _pki.CaFile];

        await using var sub = await StartSubscribedAsync([.. tls, "-t", topic, "-q", "1", "-C", "1"]);
        await PubAsync([.. tls, "-t", topic, "-q", "1", "-m", "over tls"]);
        await sub.WaitForLineAsync("over tls");
        Assert.Equal(0, await sub.WaitForExitAsync());
    }

    [Fact]
    public async Task Mosquitto_clients_use_mutual_tls_with_cert_and_key()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings(mutual: true));
        var topic = TestIds.Topic();
        string[] tls = ["-h", "127.0.0.1", "-p", Port(broker.Server.TlsPort), "--cafile", _pki.CaFile, "--cert", _pki.ClientCertFile, "--key", _pki.ClientKeyFile];

        await using var sub = await StartSubscribedAsync([.. tls, "-t", topic, "-C", "1"]);
        await PubAsync([.. tls, "-t", topic, "-m", "mutual"]);
        await sub.WaitForLineAsync("mutual");
        Assert.Equal(0, await sub.WaitForExitAsync());
    }

    [Theory]
    [InlineData("stranger")]
    [InlineData("expired")]
    [InlineData("none")]
    public async Task Mosquitto_pub_is_refused_without_a_valid_client_certificate(string which)
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings(mutual: true));
        List<string> args = ["-h", "127.0.0.1", "-p", Port(broker.Server.TlsPort), "--cafile", _pki.CaFile, "-t", "x", "-m", "y"];
        if (which != "none")
        {
            args.AddRange(["--cert", Path.Combine(_pki.Directory, $"{which}.pem"), "--key", Path.Combine(_pki.Directory, $"{which}.key")]);
        }

        await using var pub = ProcessRunner.Start(ExternalTools.MosquittoPub, args, ExternalTools.MosquittoClientsPackage);
        Assert.NotEqual(0, await pub.WaitForExitAsync());
        Assert.DoesNotContain(broker.Log.Lines, l => l.Contains("connected from", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mqtt_js_round_trips_qos_0_1_2_over_ws()
    {
        await using var broker = await TransportBroker.StartAsync(TransportBroker.WebSocketSettings());
        await RunNodeAsync($"ws://127.0.0.1:{broker.Server.WsPort}/mqtt");
    }

    [Fact]
    public async Task Mqtt_js_round_trips_qos_0_1_2_over_wss_with_the_ca()
    {
        await using var broker = await TransportBroker.StartAsync(_pki.TlsSettings(wss: true));
        await RunNodeAsync($"wss://localhost:{broker.Server.WssPort}/mqtt", _pki.CaFile);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Mqttnet_websocket_client_round_trips(bool secure)
    {
        await using var broker = await TransportBroker.StartAsync(secure ? _pki.TlsSettings(wss: true) : TransportBroker.WebSocketSettings());
        var uri = secure ? $"wss://127.0.0.1:{broker.Server.WssPort}/mqtt" : $"ws://127.0.0.1:{broker.Server.WsPort}/mqtt";
        using var ca = X509Certificate2.CreateFromPem(_pki.CaPem);
        var topic = TestIds.Topic();
        var received = System.Threading.Channels.Channel.CreateUnbounded<MqttApplicationMessage>();

        // Only a WebSocket endpoint is given (no TCP server), so nothing can fall back to the TCP listener.
        MqttClientOptions Options(string clientId)
        {
            var builder = new MqttClientOptionsBuilder()
                .WithWebSocketServer(o => o.WithUri(uri))
                .WithClientId(clientId)
                .WithTimeout(TestTimeouts.Receive);
            if (secure)
            {
                builder = builder.WithTlsOptions(o => o.UseTls().WithCertificateValidationHandler(e => ChainsTo(ca, e.Certificate)));
            }

            return builder.Build();
        }

        var factory = new MqttClientFactory();
        using var subscriber = factory.CreateMqttClient();
        using var publisher = factory.CreateMqttClient();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            received.Writer.TryWrite(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        using var cts = new CancellationTokenSource(TestTimeouts.External);
        await subscriber.ConnectAsync(Options(TestIds.Client("netws-sub")), cts.Token);
        var granted = await subscriber.SubscribeAsync(
            new MqttClientSubscribeOptionsBuilder().WithTopicFilter(f => f.WithTopic(topic).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.ExactlyOnce)).Build(),
            cts.Token);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS2, Assert.Single(granted.Items).ResultCode);
        await publisher.ConnectAsync(Options(TestIds.Client("netws-pub")), cts.Token);

        foreach (var qos in new[] { MqttQualityOfServiceLevel.AtMostOnce, MqttQualityOfServiceLevel.AtLeastOnce, MqttQualityOfServiceLevel.ExactlyOnce })
        {
            var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload($"q{(int)qos}").WithQualityOfServiceLevel(qos).Build();
            Assert.True((await publisher.PublishAsync(message, cts.Token)).IsSuccess);
            var got = await received.Reader.ReadAsync(cts.Token);
            Assert.Equal($"q{(int)qos}", MqttNetPeer.Text(got));
            Assert.Equal(qos, got.QualityOfServiceLevel);
        }

        await publisher.DisconnectAsync(cancellationToken: cts.Token);
        await subscriber.DisconnectAsync(cancellationToken: cts.Token);
    }

    private static async Task RunNodeAsync(params string[] args)
    {
        var dir = NodeDirectory();
        await using var node = ProcessRunner.Start("/usr/bin/node", [Path.Combine(dir, "ws-roundtrip.mjs"), .. args], "nodejs");
        var exit = await node.WaitForExitAsync(TestTimeouts.External + TestTimeouts.External);
        Assert.True(exit == 0, $"`{node.CommandLine}` exited with {exit}:{Environment.NewLine}{node.Output}");
    }

    /// <summary>The node/ folder of this project in the source tree, where test.sh ran <c>npm ci</c>.</summary>
    private static string NodeDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Tern.Interop.Tests", "node");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return File.Exists(Path.Combine(candidate, "node_modules", "mqtt", "package.json"))
                    ? candidate
                    : throw new MqttTestException($"MQTT.js is not installed: run `npm ci --prefix {candidate}` (test.sh does).");
            }
        }

        throw new MqttTestException("tests/Tern.Interop.Tests/node not found above " + AppContext.BaseDirectory);
    }

    private static async Task<ProcessRunner> StartSubscribedAsync(string[] args)
    {
        var sub = ProcessRunner.Start(ExternalTools.MosquittoSub, [.. args, "-d"], ExternalTools.MosquittoClientsPackage, lineBuffered: true);
        try
        {
            await sub.WaitForLineAsync(line => line.Contains("received SUBACK", StringComparison.Ordinal));
        }
        catch
        {
            await sub.DisposeAsync();
            throw;
        }

        return sub;
    }

    private static async Task PubAsync(string[] args)
    {
        await using var pub = ProcessRunner.Start(ExternalTools.MosquittoPub, args, ExternalTools.MosquittoClientsPackage);
        var exit = await pub.WaitForExitAsync();
        Assert.True(exit == 0, $"`{pub.CommandLine}` exited with {exit}:{Environment.NewLine}{pub.Output}");
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

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
