using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MQTTnet;
using Tern.TestKit;
using MqttNetVersion = MQTTnet.Formatter.MqttProtocolVersion;

namespace Tern.Server.Tests;

/// <summary>
/// A script written for EMQX 5 runs against Tern unchanged: curl command lines in the form EMQX's
/// documentation gives them (<c>curl -X GET $API/... -u key:secret -H "Content-Type: application/json"</c>),
/// run by <c>/bin/sh</c> against the broker's dashboard port, with a real MQTT client in between.
/// </summary>
public sealed class V5CurlScriptTests
{
    private const string Curl = "/usr/bin/curl";

    [Fact]
    public async Task Emqx_script_lists_publishes_reads_retained_bans_and_unbans()
    {
        await using var dashboard = await DashboardBroker.StartAsync(new Dictionary<string, string?> { ["Broker:SysIntervalSeconds"] = "0" });
        var environment = new Dictionary<string, string>
        {
            ["API"] = $"http://127.0.0.1:{dashboard.Broker.Server.DashboardPort}/api/v5",
            ["KEY"] = "admin",
            ["SECRET"] = "public",
        };
        using var device = await ConnectAsync(dashboard, "dev-1");
        var received = new TaskCompletionSource<MqttApplicationMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        await device.SubscribeAsync("t/a", MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);

        // List clients filtered by client id.
        var clients = Json(await ShAsync(
            """curl -s -X GET "$API/clients?clientid=dev-1" -u "$KEY:$SECRET" -H "Content-Type: application/json" """, environment));
        var client = Assert.Single(clients.GetProperty("data").EnumerateArray());
        Assert.Equal("dev-1", client.GetProperty("clientid").GetString());
        Assert.True(client.GetProperty("connected").GetBoolean());

        // Publish a retained message; the subscriber gets it.
        var published = Json(await ShAsync(
            """curl -s -X POST "$API/publish" -u "$KEY:$SECRET" -H "Content-Type: application/json" -d '{"topic":"t/a","qos":1,"payload":"Hello EMQX","retain":true}'""",
            environment));
        Assert.Matches("^[0-9A-F]{32}$", published.GetProperty("id").GetString());
        Assert.Equal("Hello EMQX", (await received.Task.WaitAsync(TestTimeouts.Receive)).ConvertPayloadToString());

        // Read the retained message back: its payload in base64.
        var retained = Json(await ShAsync(
            """curl -s -X GET "$API/mqtt/retainer/message/t%2Fa" -u "$KEY:$SECRET" -H "Content-Type: application/json" """, environment));
        Assert.Equal("t/a", retained.GetProperty("topic").GetString());
        Assert.Equal("Hello EMQX", Encoding.UTF8.GetString(Convert.FromBase64String(retained.GetProperty("payload").GetString()!)));

        // Ban the client id: it is disconnected, and its next CONNECT is refused as banned.
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        device.DisconnectedAsync += _ =>
        {
            disconnected.TrySetResult();
            return Task.CompletedTask;
        };
        var ban = Json(await ShAsync(
            """curl -s -X POST "$API/banned" -u "$KEY:$SECRET" -H "Content-Type: application/json" -d '{"as":"clientid","who":"dev-1","reason":"maintenance"}'""",
            environment));
        Assert.Equal("clientid", ban.GetProperty("as").GetString());
        Assert.Equal("dev-1", ban.GetProperty("who").GetString());
        await disconnected.Task.WaitAsync(TestTimeouts.Close);
        using (var refused = new MqttClientFactory().CreateMqttClient())
        {
            var result = await refused.ConnectAsync(Options(dashboard, "dev-1"));
            Assert.Equal(MqttClientConnectResultCode.Banned, result.ResultCode);
        }

        // Lift the ban: 204, and the client connects again.
        Assert.Equal("204", await ShAsync(
            """curl -s -o /dev/null -w '%{http_code}' -X DELETE "$API/banned/clientid/dev-1" -u "$KEY:$SECRET" -H "Content-Type: application/json" """, environment));
        using var back = await ConnectAsync(dashboard, "dev-1");
        Assert.True(back.IsConnected);
    }

    [Fact]
    public async Task Emqx_script_logs_in_and_uses_the_bearer_token()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var environment = new Dictionary<string, string> { ["API"] = $"http://127.0.0.1:{dashboard.Broker.Server.DashboardPort}/api/v5" };

        var output = await ShAsync(
            """
            TOKEN=$(curl -s -X POST "$API/login" -H "Content-Type: application/json" -d '{"username":"admin","password":"public"}' | sed -e 's/.*"token":"\([^"]*\)".*/\1/')
            curl -s -X GET "$API/clients" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json"
            """,
            environment);

        var clients = Json(output);
        Assert.Equal(0, clients.GetProperty("meta").GetProperty("count").GetInt32());
    }

    private static async Task<IMqttClient> ConnectAsync(DashboardBroker dashboard, string clientId)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            var result = await client.ConnectAsync(Options(dashboard, clientId));
            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        return client;
    }

    private static MqttClientOptions Options(DashboardBroker dashboard, string clientId) => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", dashboard.Broker.Port)
        .WithProtocolVersion(MqttNetVersion.V500)
        .WithClientId(clientId)
        .Build();

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    /// <summary>Runs a script with <c>/bin/sh</c>; requires exit code 0 and returns its standard output.</summary>
    private static async Task<string> ShAsync(string script, IReadOnlyDictionary<string, string> environment)
    {
        ExternalTools.Require(Curl, "curl");
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TestTimeouts.External);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{script} did not finish within {TestTimeouts.External.TotalSeconds} s");
        }

        Assert.True(process.ExitCode == 0, $"{script} exited with {process.ExitCode}: {await stderr}");
        return await stdout;
    }
}
