using Tern.Client;

namespace Tern.Cli.Tests;

/// <summary>
/// The README's two terminals end to end: Tern's broker, the ESP32 example device
/// (examples/Esp32Device as a process) and <c>tern sub -t '/topic/#' -v</c> as the PC side.
/// </summary>
public sealed class PubSubDeviceFlowTests
{
    [Fact]
    public async Task Tern_sub_sees_the_device_messages_and_the_device_logs_the_esp_mqtt_events()
    {
        await using var broker = await TernBroker.StartAsync();
        string uri = $"mqtt://127.0.0.1:{broker.Port}";

        // The README's command prints nothing until a message comes; a retained marker published
        // first tells the test that the subscription is in place, without changing the command.
        await using (var marker = new MqttClient(new MqttClientOptions { Uri = uri }))
        {
            var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            marker.Connected += (_, _) => connected.TrySetResult();
            await marker.StartAsync();
            await connected.Task.WaitAsync(PubSubProcess.Timeout);
            await marker.PublishAsync("/topic/ready", "ready", Tern.Protocol.MqttQoS.AtLeastOnce, retain: true).WaitAsync(PubSubProcess.Timeout);
        }

        await using var sub = PubSubProcess.Tern(["sub", "-h", "127.0.0.1", "-p", broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "/topic/#", "-v"]);
        await sub.WaitForLineAsync(l => l == "/topic/ready ready");

        await using var device = PubSubProcess.Start("dotnet", [PubSubProcess.Dll("Esp32Device.dll"), uri, "--count", "3"]);
        Assert.Equal(0, await device.WaitForExitAsync());
        await sub.WaitForLineAsync(l => l == "/topic/qos0 订阅成功");
        int periodic = 0; // each line is matched once, so this counts the three periodic publishes
        await sub.WaitForLineAsync(l => l == "/topic/qos0 public from esp32" && ++periodic == 3);

        Assert.Contains("mqtt: MQTT_EVENT_CONNECTED", device.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"mqtt: MQTT_EVENT_SUBSCRIBED, msg_id=[1-9]\d*", device.Stdout);
        // The device's first periodic publish may overtake 订阅成功, which waits for the SUBACK (as on the ESP32).
        Assert.Equal(
            ["/topic/qos0 public from esp32", "/topic/qos0 public from esp32", "/topic/qos0 public from esp32", "/topic/qos0 订阅成功", "/topic/ready ready"],
            sub.StdoutLines.Order(StringComparer.Ordinal));
    }
}
