using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Tern.Cli.Tests;

/// <summary>examples/AspNetCoreBroker: a web app whose HTTP endpoints publish through the broker it runs.</summary>
public sealed class AspNetCoreExampleTests
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Http_publish_reaches_an_mqtt_subscriber_and_the_app_stops_on_SIGTERM()
    {
        // Free ports instead of appsettings.json's 5080 and 1883; the rest of the file applies.
        await using var app = TernProcess.Start(["--urls", "http://127.0.0.1:0", "--Tern:Listeners:Tcp:Port=0"], dll: "AspNetCoreBroker.dll");
        var mqttLine = await app.WaitForLineAsync(l => l.StartsWith("MQTT on port ", StringComparison.Ordinal));
        var mqttPort = int.Parse(mqttLine["MQTT on port ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var httpLine = await app.WaitForLineAsync(l => l.Contains("Now listening on: http://127.0.0.1:", StringComparison.Ordinal));
        var http = new Uri(Regex.Match(httpLine, @"http://127\.0\.0\.1:\d+").Value);

        using var subscriber = new TcpClient();
        await subscriber.ConnectAsync(IPAddress.Loopback, mqttPort);
        var stream = subscriber.GetStream();
        using var cts = new CancellationTokenSource(Prompt);
        await stream.WriteAsync(Net.Connect311, cts.Token);
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, await ReadAsync(stream, 4, cts.Token));
        // SUBSCRIBE packet id 1 to devices/# at QoS 0; SUBACK grants QoS 0.
        await stream.WriteAsync((byte[])[0x82, 0x0E, 0x00, 0x01, 0x00, 0x09, .. "devices/#"u8, 0x00], cts.Token);
        Assert.Equal(new byte[] { 0x90, 0x03, 0x00, 0x01, 0x00 }, await ReadAsync(stream, 5, cts.Token));

        using var client = new HttpClient { BaseAddress = http, Timeout = Prompt };
        var status = await client.GetStringAsync(new Uri("/", UriKind.Relative));
        Assert.Equal($"MQTT on port {mqttPort}, 1 client(s) connected\n", status);

        using var published = await client.PostAsync(new Uri("/publish/devices/42/cmd", UriKind.Relative), new StringContent("reboot"));
        Assert.Equal(HttpStatusCode.OK, published.StatusCode);
        Assert.Equal("""{"topic":"devices/42/cmd","matched":true}""", await published.Content.ReadAsStringAsync());

        // PUBLISH QoS 0: topic devices/42/cmd (14 bytes) and payload "reboot".
        Assert.Equal([0x30, 0x16, 0x00, 0x0E, .. "devices/42/cmd"u8, .. "reboot"u8], await ReadAsync(stream, 24, cts.Token));

        using var invalid = await client.PostAsync(new Uri("/publish/devices/%23", UriKind.Relative), new StringContent("x"));
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);

        await app.SendSignalAsync("TERM");
        Assert.Equal(0, await app.WaitForExitAsync(Prompt));
    }

    private static async Task<byte[]> ReadAsync(NetworkStream stream, int count, CancellationToken ct)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, ct);
        return buffer;
    }
}
