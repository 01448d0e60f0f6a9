using Tern.Protocol;

namespace Tern.Client.Tests;

/// <summary>The ESP32 example's flow end to end: Esp32Device against Mosquitto, a PC-side subscriber watching /topic/qos0.</summary>
public sealed class ExampleTests : IAsyncLifetime
{
    // Its own broker: the example uses fixed topics (/topic/qos0, /topic/qos1).
    private readonly MosquittoBroker _broker = new();

    public Task InitializeAsync() => _broker.StartAsync();

    public Task DisposeAsync() => _broker.DisposeAsync().AsTask();

    [Fact]
    public async Task Esp32Device_logs_the_esp_mqtt_events_and_publishes_to_topic_qos0()
    {
        await using var pc = await TestClient.ConnectAsync(_broker.Uri);
        await pc.SubscribeAsync("/topic/#", MqttQoS.AtMostOnce);
        var output = new StringWriter();

        int exit = await Esp32Device.App.RunAsync([_broker.Uri, "--count", "2"], output).WaitAsync(TimeSpan.FromSeconds(20));

        await pc.Events.WaitAsync<DataEventArgs>(e => e.Topic == "/topic/qos0" && e.Message.PayloadText == "订阅成功");
        await pc.Events.WaitCountAsync<DataEventArgs>(2, e => e.Topic == "/topic/qos0" && e.Message.PayloadText == "public from esp32");
        string log = output.ToString();
        Assert.Equal(0, exit);
        Assert.Contains("mqtt: MQTT_EVENT_CONNECTED", log, StringComparison.Ordinal);
        Assert.Matches(@"sent subscribe successful, msg_id=[1-9]\d*", log);
        Assert.Matches(@"MQTT_EVENT_SUBSCRIBED, msg_id=[1-9]\d*", log);
        Assert.Contains("sent publish successful, msg_id=0", log, StringComparison.Ordinal);
        Assert.Contains("esp_mqtt_client_publish", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Esp32Device_prints_TOPIC_and_DATA_lines_for_messages_on_topic_qos1()
    {
        await using var pc = await TestClient.ConnectAsync(_broker.Uri);
        await pc.SubscribeAsync("/topic/qos0", MqttQoS.AtMostOnce);
        var output = new StringWriter();
        var subscribed = pc.Events.WaitAsync<DataEventArgs>(e => e.Message.PayloadText == "订阅成功");

        Task<int> device = Esp32Device.App.RunAsync([_broker.Uri, "--count", "2"], output);
        await subscribed; // the device is subscribed to /topic/qos1 by now
        await pc.Client.PublishAsync("/topic/qos1", "hello device", MqttQoS.AtLeastOnce).WaitAsync(EventLog.Timeout);
        await device.WaitAsync(TimeSpan.FromSeconds(20));

        string log = output.ToString();
        Assert.Contains("MQTT_EVENT_DATA", log, StringComparison.Ordinal);
        Assert.Contains("TOPIC=/topic/qos1\r\n", log, StringComparison.Ordinal);
        Assert.Contains("DATA=hello device\r\n", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Esp32Device_logs_a_failed_connection_at_ESP_IDF_error_level()
    {
        int closedPort = MosquittoBroker.FreePort(); // nothing listens there
        var output = new LineWriter(line => line.Contains("MQTT_EVENT_ERROR", StringComparison.Ordinal));
        using var stop = new CancellationTokenSource();

        Task<int> device = Esp32Device.App.RunAsync([$"mqtt://127.0.0.1:{closedPort}"], output, stop.Token);
        string line = await output.Matched.WaitAsync(EventLog.Timeout);
        await stop.CancelAsync();

        Assert.Matches(@"^E \(\d+\) mqtt: MQTT_EVENT_ERROR: TcpTransport: ", line);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => device.WaitAsync(EventLog.Timeout));
    }

    /// <summary>Completes <see cref="Matched"/> with the first written line that matches.</summary>
    private sealed class LineWriter(Func<string, bool> match) : StringWriter
    {
        private readonly TaskCompletionSource<string> _matched = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<string> Matched => _matched.Task;

        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && match(value))
            {
                _matched.TrySetResult(value);
            }
        }
    }
}
