using Tern.Protocol;

namespace Tern.Client.Tests;

public sealed class RefusedTests : IAsyncLifetime
{
    private readonly MosquittoBroker _broker = new(allowAnonymous: false);

    public Task InitializeAsync() => _broker.StartAsync();

    public Task DisposeAsync() => _broker.DisposeAsync().AsTask();

    [Fact]
    public async Task Anonymous_client_refused_gets_ConnectionRefused_with_return_code_5()
    {
        await using var c = TestClient.For(_broker.Uri, o => o.AutoReconnect = false);
        await c.Client.StartAsync();
        var error = await c.Events.WaitAsync<MqttErrorEventArgs>();
        Assert.Equal(MqttErrorType.ConnectionRefused, error.ErrorType);
        Assert.Equal(ConnectReturnCode.NotAuthorized, error.ConnectReturnCode);
        Assert.Empty(c.Events.All<ConnectedEventArgs>());
    }

    [Fact]
    public async Task Mqtt5_refusal_carries_the_reason_code()
    {
        await using var c = TestClient.For(_broker.Uri, o => { o.AutoReconnect = false; o.ProtocolVersion = MqttProtocolVersion.V500; });
        await c.Client.StartAsync();
        var error = await c.Events.WaitAsync<MqttErrorEventArgs>();
        Assert.Equal(MqttErrorType.ConnectionRefused, error.ErrorType);
        Assert.Equal(ReasonCode.NotAuthorized, error.ReasonCode);
    }
}
