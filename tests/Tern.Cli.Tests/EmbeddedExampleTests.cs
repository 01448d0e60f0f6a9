using System.Net;
using System.Text.RegularExpressions;

namespace Tern.Cli.Tests;

/// <summary>The README's "Embed it" snippet: it is examples/EmbeddedBroker, and that program runs.</summary>
public sealed class EmbeddedExampleTests
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(15);

    [Fact]
    public void Readme_snippet_is_the_example_program()
    {
        var root = Repository.Root();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var section = readme[readme.IndexOf("## Embed it", StringComparison.Ordinal)..];
        var snippet = Regex.Match(section, "```csharp\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
        var program = File.ReadAllText(Path.Combine(root, "examples", "EmbeddedBroker", "Program.cs"));

        Assert.Equal(program.ReplaceLineEndings("\n"), snippet);
    }

    [Fact]
    public async Task Example_serves_mqtt_on_free_ports_of_127_0_0_1_and_stops_on_SIGTERM()
    {
        // Two at once: neither may grab a fixed port (8083, 18083) that the other then cannot bind.
        await using var first = TernProcess.Start([], dll: "EmbeddedBroker.dll");
        await using var second = TernProcess.Start([], dll: "EmbeddedBroker.dll");

        foreach (var example in (TernProcess[])[first, second])
        {
            var line = await example.WaitForLineAsync(l => l.StartsWith("MQTT on port ", StringComparison.Ordinal));
            var ports = Regex.Match(line, @"^MQTT on port (\d+), WebSocket on (\d+), dashboard on (\d+)$");
            Assert.True(ports.Success, line);
            var (tcp, ws, dashboard) = (Port(ports, 1), Port(ports, 2), Port(ports, 3));
            Assert.DoesNotContain(8083, (int[])[tcp, ws, dashboard]);
            Assert.DoesNotContain(18083, (int[])[tcp, ws, dashboard]);
            await example.WaitForLineAsync(l => l.Contains($"ws://127.0.0.1:{ws}/mqtt", StringComparison.Ordinal));
            await example.WaitForLineAsync(l => l.Contains($"Dashboard and REST API on http://127.0.0.1:{dashboard} ", StringComparison.Ordinal));

            Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, await Net.ConnectAndReadConnAckAsync(tcp, Prompt));
            using var http = new HttpClient { Timeout = Prompt };
            using var page = await http.GetAsync(new Uri($"http://127.0.0.1:{dashboard}/"));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);

            await example.SendSignalAsync("TERM");
            Assert.Equal(0, await example.WaitForExitAsync(Prompt));
        }
    }

    private static int Port(Match match, int group) => int.Parse(match.Groups[group].Value, System.Globalization.CultureInfo.InvariantCulture);
}
