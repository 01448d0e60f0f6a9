using Tern.Protocol;

namespace Tern.Client.Tests;

/// <summary>A client plus its event log, disposed together.</summary>
public sealed class TestClient : IAsyncDisposable
{
    public TestClient(MqttClientOptions options)
    {
        options.ReconnectDelay = TimeSpan.FromMilliseconds(50);
        options.MaxReconnectDelay = TimeSpan.FromMilliseconds(400);
        options.NetworkTimeout = TimeSpan.FromSeconds(5);
        Client = new MqttClient(options);
        Events = new EventLog(Client);
    }

    public MqttClient Client { get; }

    public EventLog Events { get; }

    public static TestClient For(string uri, Action<MqttClientOptions>? configure = null)
    {
        var options = new MqttClientOptions { Uri = uri };
        configure?.Invoke(options);
        return new TestClient(options);
    }

    /// <summary>Starts and waits for CONNECTED.</summary>
    public static async Task<TestClient> ConnectAsync(string uri, Action<MqttClientOptions>? configure = null)
    {
        var client = For(uri, configure);
        await client.Client.StartAsync();
        await client.Events.WaitAsync<ConnectedEventArgs>();
        return client;
    }

    public static string UniqueTopic(string prefix = "t") => $"{prefix}/{Guid.NewGuid():N}";

    public Task<SubscribeResult> SubscribeAsync(string filter, MqttQoS qos) => Client.SubscribeAsync(filter, qos).WaitAsync(EventLog.Timeout);

    public async ValueTask DisposeAsync() => await Client.DisposeAsync();
}
