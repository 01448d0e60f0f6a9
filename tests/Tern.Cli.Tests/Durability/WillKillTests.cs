using System.Collections.Concurrent;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Cli.Tests.Durability;

/// <summary>
/// A device's will across a crash: <c>tern start</c> runs as a child process and is killed with
/// SIGKILL while a device with a persistent session and a will is connected. The kill ended that
/// connection as a network failure would, so when Tern starts again on the same store the will is
/// published: to a persistent subscriber that was offline, and as the retained message.
/// </summary>
public sealed class WillKillTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-will-kill-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task The_will_of_a_device_connected_when_tern_is_killed_is_published_when_tern_starts_again(MqttProtocolVersion version)
    {
        const string Topic = "status/will-dev";
        await using (var tern = Start())
        {
            var port = await tern.WaitForMqttPortAsync(Timeout);
            await using (var watcher = new MqttClient(Options(port, "will-watch", version)))
            {
                await ConnectedAsync(watcher);
                await watcher.SubscribeAsync("status/#", MqttQoS.AtLeastOnce);
                await watcher.DisconnectAsync();
            }

            var deviceOptions = Options(port, "will-dev", version);
            deviceOptions.AutoReconnect = false;
            deviceOptions.LastWillTopic = Topic;
            deviceOptions.LastWillText = "offline";
            deviceOptions.LastWillQoS = MqttQoS.AtLeastOnce;
            deviceOptions.LastWillRetain = true;
            var device = new MqttClient(deviceOptions);
            await ConnectedAsync(device);

            // Acknowledged once stored: the session's row, with its will, was committed before it.
            await device.PublishAsync(Topic, "online", MqttQoS.AtLeastOnce, retain: true);

            // SIGKILL: no DISCONNECT, no last word from Tern; the device's connection just ends.
            await tern.SendSignalAsync("KILL");
            Assert.Equal(137, await tern.WaitForExitAsync(Timeout));
            await device.DisposeAsync();
        }

        await using (var tern = Start())
        {
            var port = await tern.WaitForMqttPortAsync(Timeout);
            var received = new ConcurrentQueue<string>();
            var gotWill = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var watcher = new MqttClient(Options(port, "will-watch", version));
            watcher.Data += (_, e) =>
            {
                received.Enqueue($"{e.Message.Topic}={e.Message.PayloadText}");
                if (e.Message.PayloadText == "offline")
                {
                    gotWill.TrySetResult();
                }
            };
            await ConnectedAsync(watcher);
            await gotWill.Task.WaitAsync(Timeout);
            Assert.Equal([$"{Topic}=online", $"{Topic}=offline"], received);

            // And the will is the retained message now.
            var retained = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var late = new MqttClient(new MqttClientOptions { Uri = $"mqtt://127.0.0.1:{port}", ClientId = "will-late", ProtocolVersion = version });
            late.Data += (_, e) => retained.TrySetResult(e.Message.PayloadText);
            await ConnectedAsync(late);
            await late.SubscribeAsync(Topic, MqttQoS.AtLeastOnce);
            Assert.Equal("offline", await retained.Task.WaitAsync(Timeout));
        }
    }

    /// <summary>A durable broker (the default) on a port of its own, its store in this test's directory.</summary>
    private TernProcess Start() => TernProcess.Start(
        ["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false", "--Broker:SysIntervalSeconds=0"],
        workingDirectory: _directory);

    private static MqttClientOptions Options(int port, string clientId, MqttProtocolVersion version) => new()
    {
        Uri = $"mqtt://127.0.0.1:{port}",
        ClientId = clientId,
        ProtocolVersion = version,
        CleanSession = false,
        SessionExpiryInterval = version == MqttProtocolVersion.V500 ? 3600 : null,
    };

    private static async Task ConnectedAsync(MqttClient client)
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, _) => connected.TrySetResult();
        await client.StartAsync();
        await connected.Task.WaitAsync(Timeout);
    }
}
