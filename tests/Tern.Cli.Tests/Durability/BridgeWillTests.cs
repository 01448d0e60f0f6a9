using System.Globalization;
using Tern.Server.Tests;
using Tern.Server.Tests.Bridges;

namespace Tern.Cli.Tests.Durability;

/// <summary>
/// A bridge's will: <c>tern start</c> runs as a child process bridged to a Mosquitto, which shows the
/// bridge's state as <c>1</c>; killed with SIGKILL, Tern says nothing more, so the <c>0</c> that
/// follows on Mosquitto can only come from the will in the bridge's CONNECT.
/// </summary>
public sealed class BridgeWillTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("tern-bridge-will-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("3.1.1")]
    [InlineData("5")]
    public async Task A_killed_tern_leaves_0_on_the_remote_state_topic_through_its_will(string version)
    {
        await using var mosquitto = await MosquittoRemote.StartAsync();
        var clientId = $"tern-will-{Path.GetFileName(_directory)}";
        var topic = $"$SYS/broker/connection/{clientId}/state";
        await using var watch = await WatchClient.StartAsync(mosquitto.Port, topic);
        var tern = TernProcess.Start(
            ["start", "-p", Net.FreePort().ToString(CultureInfo.InvariantCulture), "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false", "--Persistence:Mode=memory",
             "--Bridges:0:Name=cloud", $"--Bridges:0:Address=127.0.0.1:{mosquitto.Port.ToString(CultureInfo.InvariantCulture)}", $"--Bridges:0:ClientId={clientId}", $"--Bridges:0:ProtocolVersion={version}",
             "--Bridges:0:Topics:0:Pattern=data/#", "--Bridges:0:Topics:0:Direction=out"],
            workingDirectory: _directory);
        await using (tern)
        {
            await watch.WaitForAsync(r => r.Contains((topic, "1")), "1 once the bridge connected", Timeout);
        }

        // Disposed: SIGKILL, no DISCONNECT and no last word from Tern.
        await watch.WaitForAsync(r => r.Count == 2, "0 from the will", Timeout);
        Assert.Equal(new[] { (topic, "1"), (topic, "0") }, watch.Received);
        Assert.Contains($"Client {clientId} closed its connection", mosquitto.Log, StringComparison.Ordinal);
    }
}
