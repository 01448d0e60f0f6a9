using System.Net;
using MQTTnet;
using Tern.Protocol;
using Tern.TestKit;
using MqttNetVersion = MQTTnet.Formatter.MqttProtocolVersion;

namespace Tern.Server.Tests;

/// <summary><c>DELETE /api/v5/clients/{clientid}</c>: the administrator's kick.</summary>
public sealed class KickApiTests
{
    [Fact]
    public async Task Kick_sends_an_mqtt5_client_disconnect_0x98_administrative_action()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var clientId = TestIds.Client("kick5");
        using var mqtt = new MqttClientFactory().CreateMqttClient();
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        mqtt.DisconnectedAsync += e =>
        {
            disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };
        await mqtt.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", dashboard.Broker.Port)
            .WithProtocolVersion(MqttNetVersion.V500)
            .WithClientId(clientId)
            .Build());

        using var response = await dashboard.Http.DeleteAsync($"api/v5/clients/{clientId}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var e = await disconnected.Task.WaitAsync(TestTimeouts.Close);
        Assert.Equal(MqttClientDisconnectReason.AdministrativeAction, e.Reason);
        Assert.False(mqtt.IsConnected);
        await Eventually.HoldsAsync(
            async () => (await dashboard.GetJsonAsync("api/v5/clients")).GetProperty("data").GetArrayLength() == 0,
            "the kicked client leaves the client list");
        using var again = await dashboard.Http.DeleteAsync($"api/v5/clients/{clientId}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Kick_closes_an_mqtt311_connection_and_publishes_its_will()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var willTopic = TestIds.Topic();
        await using var watcher = await dashboard.Broker.ConnectAsync(TestIds.Client("watch"));
        await watcher.SubscribeAsync(willTopic, MqttQoS.AtLeastOnce);
        var clientId = TestIds.Client("kick3");
        await using var device = await dashboard.Broker.ConnectAsync(clientId, will: PacketExtensions.Will(willTopic, "offline", MqttQoS.AtLeastOnce));

        using var response = await dashboard.Http.DeleteAsync($"api/v5/clients/{clientId}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.True(await device.WaitForCloseAsync(), "the broker closes the kicked 3.1.1 connection");
        var will = await watcher.ReceivePublishAsync();
        Assert.Equal(willTopic, will.Topic);
        Assert.Equal("offline", will.PayloadText());
    }

    [Fact]
    public async Task Kick_leaves_other_clients_connected()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        await using var kicked = await dashboard.Broker.ConnectAsync("kick-me", version: MqttProtocolVersion.V500);
        await using var other = await dashboard.Broker.ConnectAsync("keep-me", version: MqttProtocolVersion.V500);

        using var response = await dashboard.Http.DeleteAsync("api/v5/clients/kick-me");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await kicked.ExpectDisconnectAsync(ReasonCode.AdministrativeAction);
        await other.PingAsync();
        var one = await dashboard.GetJsonAsync("api/v5/clients/keep-me");
        Assert.Equal("keep-me", one.GetProperty("clientid").GetString());
    }
}
