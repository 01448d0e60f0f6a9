// An ESP32 program built on the ESP-IDF esp-mqtt example (mqtt_event_handler + mqtt_test), on
// Tern.Client line for line: connect; on CONNECTED subscribe /topic/qos1 at QoS 1; on SUBSCRIBED
// publish "订阅成功" to /topic/qos0; then publish "public from esp32" to /topic/qos0 every second.
//
//   dotnet run --project examples/Esp32Device [URI] [--count N]
//
// URI from the argument, else $MQTT_URI, else mqtt://127.0.0.1:1883. --count N stops after N
// periodic publishes (for tests). Lines use ESP-IDF's log format and levels: I (info), W (warning),
// E (error), each followed by the milliseconds since start.
using System.Text;
using Tern.Client;
using Tern.Protocol;

Console.OutputEncoding = Encoding.UTF8;
return await Esp32Device.App.RunAsync(args, Console.Out);

namespace Esp32Device
{
    public static class App
    {
        private const string Tag = "mqtt";

        public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
        {
            string? uri = null;
            int? count = null;
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--count" && i + 1 < args.Length)
                {
                    count = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
                }
                else
                {
                    uri = args[i];
                }
            }

            uri ??= Environment.GetEnvironmentVariable("MQTT_URI") ?? "mqtt://127.0.0.1:1883";
            var started = Environment.TickCount64;
            var gate = new object();

            // ESP_LOGI/ESP_LOGW/ESP_LOGE print "I|W|E (milliseconds since boot) TAG: message".
            void Write(char level, string message)
            {
                lock (gate)
                {
                    output.WriteLine($"{level} ({Environment.TickCount64 - started}) {Tag}: {message}");
                    output.Flush();
                }
            }

            void Log(string message) => Write('I', message);
            void Warn(string message) => Write('W', message);
            void Error(string message) => Write('E', message);

            void Print(string line)
            {
                lock (gate)
                {
                    output.Write(line + "\r\n");
                    output.Flush();
                }
            }

            // xEventGroupWaitBits(mqtt_event_group, CONNECTED_BIT, ...)
            var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            await using var client = new MqttClient(new MqttClientOptions { Uri = uri });
            client.Connected += (_, _) =>
            {
                Log("MQTT_EVENT_CONNECTED");
                connected.TrySetResult();
                int msgId = client.Subscribe("/topic/qos1", MqttQoS.AtLeastOnce);
                Log($"sent subscribe successful, msg_id={msgId}");
            };
            client.Disconnected += (_, _) => Log("MQTT_EVENT_DISCONNECTED");
            client.Subscribed += (_, e) =>
            {
                Log($"MQTT_EVENT_SUBSCRIBED, msg_id={e.MessageId}");
                int msgId = client.Publish("/topic/qos0", "订阅成功");
                Log($"sent publish successful, msg_id={msgId}");
            };
            client.Unsubscribed += (_, e) => Log($"MQTT_EVENT_UNSUBSCRIBED, msg_id={e.MessageId}");
            client.Published += (_, e) => Log($"MQTT_EVENT_PUBLISHED, msg_id={e.MessageId}");
            client.Data += (_, e) =>
            {
                Log("MQTT_EVENT_DATA");
                Print($"TOPIC={e.Topic}");
                Print($"DATA={Encoding.UTF8.GetString(e.Payload.Span)}");
            };
            client.Deleted += (_, e) => Warn($"MQTT_EVENT_DELETED, msg_id={e.MessageId}, topic={e.Topic}");
            client.Error += (_, e) => Error($"MQTT_EVENT_ERROR: {e.ErrorType}: {e.Message}");

            await client.StartAsync();
            await connected.Task.WaitAsync(cancellationToken);

            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            for (int sent = 0; count is null || sent < count; sent++)
            {
                if (client.Publish("/topic/qos0", "public from esp32") < 0)
                {
                    Warn("esp_mqtt_client_publish: not connected, message not sent");
                }
                else
                {
                    Log("esp_mqtt_client_publish");
                }

                if (count is null || sent + 1 < count)
                {
                    await timer.WaitForNextTickAsync(cancellationToken);
                }
            }

            await client.StopAsync();
            return 0;
        }
    }
}
