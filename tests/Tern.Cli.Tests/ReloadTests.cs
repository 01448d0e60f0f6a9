using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Cli.Tests;

/// <summary>
/// <c>tern start</c> reloading its configuration file on SIGHUP and when the file changes: a client
/// connected before the reload stays connected and the new ACL rule and log level apply to its next PUBLISH.
/// </summary>
public sealed class ReloadTests : IDisposable
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(20);

    private readonly string _directory = Directory.CreateTempSubdirectory("tern-reload-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string ConfigPath => Path.Combine(_directory, "tern.json");

    [Fact]
    public async Task SIGHUP_applies_a_new_ACL_rule_and_log_level_to_a_connected_client_and_names_what_needs_a_restart()
    {
        WriteConfig(denySecret: false, brokerLevel: "Information", maxPacketSize: 1048576);
        await using var tern = TernProcess.Start(["start", "-c", ConfigPath], workingDirectory: _directory);
        await using var client = await ConnectAsync(tern);
        Assert.True(Allowed(await PublishAsync(client, "secret/a", 1)));

        WriteConfig(denySecret: true, brokerLevel: "Debug", maxPacketSize: 2048);
        await tern.SendSignalAsync("HUP");

        var reloaded = await tern.WaitForLineAsync(l => l.Contains("Configuration reloaded", StringComparison.Ordinal), Prompt);
        Assert.Contains("applied Acl:Rules, Logging:LogLevel:Tern.Broker;", reloaded, StringComparison.Ordinal);
        Assert.Contains("access control 1 rules, default allow", reloaded, StringComparison.Ordinal);
        Assert.EndsWith("needs a restart: Broker:MaxPacketSize", reloaded, StringComparison.Ordinal);

        // The same connection: the deny rule answers its next PUBLISH, and the broker's Debug line for it is now written.
        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(client, "secret/b", 2));
        await tern.WaitForLineAsync(l => l.Contains("may not publish to secret/b", StringComparison.Ordinal), Prompt);
        Assert.DoesNotContain("secret/a", tern.Stderr, StringComparison.Ordinal);
        Assert.True(Allowed(await PublishAsync(client, "open/c", 3)));
        Assert.False(client.IsClosed);
    }

    [Fact]
    public async Task An_edited_file_is_applied_without_a_signal_and_a_broken_one_changes_nothing()
    {
        WriteConfig(denySecret: false, brokerLevel: "Information", maxPacketSize: 1048576);
        await using var tern = TernProcess.Start(["start", "-c", ConfigPath], workingDirectory: _directory);
        await using var client = await ConnectAsync(tern);

        WriteConfig(denySecret: true, brokerLevel: "Information", maxPacketSize: 1048576);
        var reloaded = await tern.WaitForLineAsync(l => l.Contains("Configuration reloaded", StringComparison.Ordinal), Prompt);
        Assert.Contains("applied Acl:Rules;", reloaded, StringComparison.Ordinal);
        Assert.EndsWith("needs a restart: nothing", reloaded, StringComparison.Ordinal);
        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(client, "secret/a", 1));

        await File.WriteAllTextAsync(ConfigPath, """{ "Acl": { "Rules": [ """);
        await tern.SendSignalAsync("HUP");
        var failed = await tern.WaitForLineAsync(l => l.Contains("Configuration not reloaded", StringComparison.Ordinal), Prompt);
        Assert.Contains("Invalid configuration file", failed, StringComparison.Ordinal);
        Assert.Equal(ReasonCode.NotAuthorized, await PublishAsync(client, "secret/b", 2));
        Assert.True(Allowed(await PublishAsync(client, "open/c", 3)));
    }

    private void WriteConfig(bool denySecret, string brokerLevel, int maxPacketSize)
    {
        var rules = denySecret ? """[ { "Allow": false, "All": true, "Action": "publish", "Topic": "secret/#" } ]""" : "[]";
        var json = $$"""
            {
              "Listeners": { "Tcp": { "Address": "127.0.0.1", "Port": 0 }, "Ws": { "Enabled": false } },
              "Dashboard": { "Enabled": false },
              "Broker": { "MaxPacketSize": {{maxPacketSize.ToString(CultureInfo.InvariantCulture)}} },
              "Acl": { "Default": "allow", "Rules": {{rules}} },
              "Logging": { "LogLevel": { "Default": "Information", "Tern.Broker": "{{brokerLevel}}" } }
            }
            """;

        // Written aside and renamed over, as editors do: the broker never reads a half-written file.
        var temp = ConfigPath + ".tmp";
        File.WriteAllText(temp, json);
        File.Move(temp, ConfigPath, overwrite: true);
    }

    private async Task<RawMqttClient> ConnectAsync(TernProcess tern)
    {
        var line = await tern.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), Prompt);
        var port = int.Parse(Regex.Match(line, @"mqtt://127\.0\.0\.1:(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        var client = await RawMqttClient.OpenAsync(port);
        var connack = await client.ConnectAsync("reload-1", version: MqttProtocolVersion.V500);
        Assert.Equal(0, connack.ReasonCode);
        return client;
    }

    /// <summary>Success, or "no matching subscribers" (0x10): the broker took the message either way.</summary>
    private static bool Allowed(ReasonCode code) => (byte)code < 0x80;

    /// <summary>Publishes at QoS 1 (MQTT 5) and returns the PUBACK's reason code.</summary>
    private static async Task<ReasonCode> PublishAsync(RawMqttClient client, string topic, ushort id)
    {
        await client.SendAsync(new PublishPacket { Topic = topic, Payload = Encoding.UTF8.GetBytes("x"), QoS = MqttQoS.AtLeastOnce, PacketId = id });
        var ack = await client.ReceiveAsync<PubAckPacket>();
        Assert.Equal(id, ack.PacketId);
        return ack.ReasonCode;
    }
}
