namespace Tern.Client.Tests;

/// <summary>One plain Mosquitto per test class.</summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    public MosquittoBroker Broker { get; } = new();

    public Task InitializeAsync() => Broker.StartAsync();

    public Task DisposeAsync() => Broker.DisposeAsync().AsTask();
}
