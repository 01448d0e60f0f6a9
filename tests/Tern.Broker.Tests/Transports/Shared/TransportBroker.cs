using Tern.TestKit;

namespace Tern.Transports.Tests;

/// <summary>A <see cref="TestBroker"/> with extra listeners and its log captured.</summary>
public sealed class TransportBroker : IAsyncDisposable
{
    private TransportBroker(TestBroker broker, LogCapture log)
    {
        Broker = broker;
        Log = log;
    }

    public TestBroker Broker { get; }

    public LogCapture Log { get; }

    public Tern.Server.TernServer Server => Broker.Server;

    /// <summary>Settings that turn the WebSocket listener on at 127.0.0.1, port 0.</summary>
    public static Dictionary<string, string?> WebSocketSettings() => new(StringComparer.OrdinalIgnoreCase)
    {
        ["Listeners:Ws:Enabled"] = "true",
        ["Listeners:Ws:Address"] = "127.0.0.1",
        ["Listeners:Ws:Port"] = "0",
    };

    public static async Task<TransportBroker> StartAsync(params IReadOnlyDictionary<string, string?>[] settings)
    {
        var merged = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in settings)
        {
            foreach (var (key, value) in part)
            {
                merged[key] = value;
            }
        }

        var broker = await TestBroker.StartAsync(merged);
        return new TransportBroker(broker, LogCapture.Attach(broker.Server));
    }

    public ValueTask DisposeAsync() => Broker.DisposeAsync();
}
