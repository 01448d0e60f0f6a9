using System.Buffers;
using System.Text;
using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Formatter;
using Tern.TestKit;

namespace Tern.Interop.Tests.MqttNet;

/// <summary>An MQTTnet client whose received messages can be awaited one by one.</summary>
internal sealed class MqttNetPeer : IAsyncDisposable
{
    private readonly Channel<MqttApplicationMessage> _messages = Channel.CreateUnbounded<MqttApplicationMessage>();

    private MqttNetPeer(IMqttClient client)
    {
        Client = client;
        Client.ApplicationMessageReceivedAsync += e =>
        {
            _messages.Writer.TryWrite(e.ApplicationMessage);
            return Task.CompletedTask;
        };
    }

    public IMqttClient Client { get; }

    public MqttClientConnectResult? ConnectResult { get; private set; }

    public static async Task<MqttNetPeer> ConnectAsync(
        TestBroker broker,
        string clientId,
        bool cleanSession = true,
        Func<MqttClientOptionsBuilder, MqttClientOptionsBuilder>? configure = null,
        MqttProtocolVersion version = MqttProtocolVersion.V311)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", broker.Port)
            .WithProtocolVersion(version)
            .WithClientId(clientId)
            .WithCleanSession(cleanSession)
            .WithTimeout(TestTimeouts.Receive);
        builder = configure?.Invoke(builder) ?? builder;
        var peer = new MqttNetPeer(new MqttClientFactory().CreateMqttClient());
        try
        {
            using var cts = new CancellationTokenSource(TestTimeouts.Receive);
            peer.ConnectResult = await peer.Client.ConnectAsync(builder.Build(), cts.Token);
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }

        return peer;
    }

    public async Task<MqttApplicationMessage> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TestTimeouts.Receive);
        try
        {
            return await _messages.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new MqttTestException($"MQTTnet client '{Client.Options?.ClientId}' received no message within {(timeout ?? TestTimeouts.Receive).TotalSeconds:0.#} s (connected: {Client.IsConnected})");
        }
    }

    public async Task ExpectNoMessageAsync()
    {
        using var cts = new CancellationTokenSource(TestTimeouts.Absence);
        try
        {
            var message = await _messages.Reader.ReadAsync(cts.Token);
            throw new MqttTestException($"MQTTnet client expected no message but received '{message.Topic}': {Text(message)}");
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // Nothing arrived.
        }
    }

    public static string Text(MqttApplicationMessage message) => Encoding.UTF8.GetString(message.Payload.ToArray());

    public async ValueTask DisposeAsync()
    {
        if (Client.IsConnected)
        {
            try
            {
                await Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
            {
                // The broker may already have closed it.
            }
        }

        Client.Dispose();
    }
}
