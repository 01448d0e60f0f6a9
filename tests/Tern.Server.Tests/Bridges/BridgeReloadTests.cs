using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Tern.Protocol;
using Tern.Server.Bridges;
using Tern.TestKit;

namespace Tern.Server.Tests.Bridges;

/// <summary>
/// <see cref="TernServer.Reload"/> with a changed <c>Bridges</c> list, against a real Mosquitto: the
/// bridges added, removed or changed start and stop, and the others keep their connection.
/// </summary>
public sealed class BridgeReloadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-bridge-reload-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string ConfigPath => Path.Combine(_directory, "tern.json");

    [Fact]
    public async Task Added_removed_and_changed_bridges_start_and_stop_and_the_unchanged_one_keeps_its_connection()
    {
        await using var mosquitto = await MosquittoRemote.StartAsync();
        await using var remoteWatch = await WatchClient.StartAsync(mosquitto.Port, "#");
        WriteConfig(mosquitto.Port, ("a", "a/#"), ("b", "b/#"), ("d", "d/#"));
        await using var server = TernServer.Create(configFile: ConfigPath);
        await server.StartAsync();
        var service = server.Services.GetRequiredService<BridgeService>();
        await WaitForAsync(service, () => service.Bridges.All(b => b.Status().Connected), "a, b and d connected");
        var before = service.Bridges.ToDictionary(b => b.Name);
        var aConnectedAt = before["a"].Status().ConnectedAt;
        Assert.NotNull(aConnectedAt);

        // b forwards another topic and moves first, a stays as it was, c is new, d is gone.
        WriteConfig(mosquitto.Port, ("b", "b2/#"), ("a", "a/#"), ("c", "c/#"));
        var result = server.Reload();

        Assert.Null(result.Error);
        Assert.Equal(["Bridges"], result.Applied);
        Assert.Empty(result.NeedRestart);
        Assert.Equal(["b", "a", "c"], service.Bridges.Select(b => b.Name));
        Assert.Same(before["a"], service.Bridges[1]);
        Assert.NotSame(before["b"], service.Bridges[0]);
        Assert.Equal("stopped", before["b"].Status().State);
        Assert.Equal("stopped", before["d"].Status().State);
        await WaitForAsync(service, () => service.Bridges.All(b => b.Status().Connected), "b and c connected");
        Assert.True(before["a"].Status().Connected, "a stayed connected");
        Assert.Equal(aConnectedAt, before["a"].Status().ConnectedAt);

        // What each bridge forwards now: nothing goes out on the old b's or d's topics.
        foreach (var topic in new[] { "d/1", "b/1", "a/1", "b2/1", "c/1" })
        {
            server.Broker.Publish(topic, Encoding.UTF8.GetBytes(topic), MqttQoS.AtLeastOnce);
        }

        await remoteWatch.WaitForAsync(
            r => new[] { "a/1", "b2/1", "c/1" }.All(t => r.Contains((t, t))),
            "a/1, b2/1 and c/1 on the remote");
        Assert.DoesNotContain(remoteWatch.Received, m => m.Topic is "b/1" or "d/1");
    }

    [Fact]
    public async Task A_bad_bridge_in_the_new_file_changes_no_bridge_and_says_why()
    {
        await using var mosquitto = await MosquittoRemote.StartAsync();
        WriteConfig(mosquitto.Port, ("a", "a/#"));
        await using var server = TernServer.Create(configFile: ConfigPath);
        await server.StartAsync();
        var service = server.Services.GetRequiredService<BridgeService>();
        var a = service.Bridges.Single();

        WriteConfig(mosquitto.Port, ("a", "a/#"), ("b", "b/+/x/#/y"));
        var result = server.Reload();

        Assert.NotNull(result.Error);
        Assert.StartsWith("Invalid configuration: 'b/+/x/#/y'", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Applied);
        Assert.Same(a, service.Bridges.Single());
        Assert.NotEqual("stopped", a.Status().State);
    }

    private void WriteConfig(int port, params (string Name, string Pattern)[] bridges)
    {
        var entries = bridges.Select(b => $$"""
            {
              "Name": "{{b.Name}}",
              "Address": "127.0.0.1:{{port}}",
              "ClientId": "tern-reload-{{b.Name}}-{{Path.GetFileName(_directory)}}",
              "ReconnectMinSeconds": 0.1,
              "ReconnectMaxSeconds": 0.5,
              "Topics": [ { "Pattern": "{{b.Pattern}}", "Direction": "out", "QoS": 1 } ]
            }
            """);
        File.WriteAllText(ConfigPath, $$"""
            {
              "Listeners": { "Tcp": { "Address": "127.0.0.1", "Port": 0 }, "Ws": { "Enabled": false } },
              "Dashboard": { "Enabled": false },
              "Persistence": { "Mode": "Memory" },
              "Bridges": [ {{string.Join(",\n", entries)}} ]
            }
            """);
    }

    private static async Task WaitForAsync(BridgeService service, Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.External;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Within {TestTimeouts.External.TotalSeconds:0} s: {what}. Bridges: {string.Join("; ", service.Bridges.Select(b => b.Status()))}");
            await Task.Delay(20);
        }
    }
}
