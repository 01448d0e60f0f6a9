using System.Net;
using System.Net.Sockets;

namespace Tern.Cli.Tests;

/// <summary>The <c>tern</c> executable, run as a real process.</summary>
public sealed class CliTests
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Help_lists_the_start_command()
    {
        var (code, tern) = await TernProcess.RunAsync(["--help"]);
        await using var _ = tern;

        Assert.Equal(0, code);
        Assert.Contains("start", tern.Stdout, StringComparison.Ordinal);
        Assert.Contains("--version", tern.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_help_explains_port_and_config()
    {
        var (code, tern) = await TernProcess.RunAsync(["start", "--help"]);
        await using var _ = tern;

        Assert.Equal(0, code);
        Assert.Contains("-p, --port", tern.Stdout, StringComparison.Ordinal);
        Assert.Contains("-c, --config", tern.Stdout, StringComparison.Ordinal);
        Assert.Contains("Listeners:Tcp:Port", tern.Stdout, StringComparison.Ordinal);
        Assert.Contains("TERN_", tern.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_prints_the_version()
    {
        var (code, tern) = await TernProcess.RunAsync(["--version"]);
        await using var _ = tern;

        Assert.Equal(0, code);
        Assert.Matches(@"^\d+\.\d+\.\d+", tern.Stdout.Trim());
    }

    [Fact]
    public async Task Start_listens_on_the_given_port_and_answers_connect_with_connack()
    {
        // A port found free can be taken by another process before tern binds it: then try another.
        for (var attempt = 1; ; attempt++)
        {
            var port = Net.FreePort();
            await using var tern = TernProcess.Start(["start", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false"]);
            var line = await tern.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal) || l.Contains("address already in use", StringComparison.Ordinal));
            if (line.Contains("address already in use", StringComparison.Ordinal) && attempt < 3)
            {
                continue;
            }

            await AssertListensOnAsync(tern, line, port);
            return;
        }
    }

    private static async Task AssertListensOnAsync(TernProcess tern, string line, int port)
    {
        Assert.Contains($"mqtt://127.0.0.1:{port}", line, StringComparison.Ordinal);
        Assert.Contains("Tern ", line, StringComparison.Ordinal);

        // Said once: the log line, not a second copy on standard output.
        Assert.DoesNotContain("listening on", tern.Stdout, StringComparison.Ordinal);

        // CONNACK, remaining length 2, no session present, return code 0 (accepted).
        var connAck = await Net.ConnectAndReadConnAckAsync(port, Prompt);
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connAck);
    }

    [Fact]
    public async Task Start_prints_where_the_dashboard_is_and_warns_about_the_default_password()
    {
        await using var tern = TernProcess.Start(["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Address=127.0.0.1", "--Dashboard:Port=0"]);

        var line = await tern.WaitForLineAsync(l => l.Contains("Dashboard and REST API on ", StringComparison.Ordinal));
        var url = System.Text.RegularExpressions.Regex.Match(line, @"Dashboard and REST API on (\S+)").Groups[1].Value;
        Assert.StartsWith("http://127.0.0.1:", url, StringComparison.Ordinal);
        await tern.WaitForLineAsync(l => l.Contains("accept the default password 'public'", StringComparison.Ordinal));

        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = Prompt };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("admin:public"u8));
        using var stats = await http.GetAsync("/api/v5/stats");
        Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task Signal_stops_gracefully_with_exit_code_0(string signal)
    {
        await using var tern = TernProcess.Start(["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false"]);
        var line = await tern.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
        var port = int.Parse(System.Text.RegularExpressions.Regex.Match(line, @"mqtt://127\.0\.0\.1:(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        // An open client connection must not hold up shutdown.
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);

        await tern.SendSignalAsync(signal);

        Assert.Equal(0, await tern.WaitForExitAsync(Prompt));
    }

    [Fact]
    public async Task Invalid_value_on_the_command_line_exits_1_naming_the_key()
    {
        var (code, tern) = await TernProcess.RunAsync(["start", "--Broker:MaxInflight=0"]);
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains("Invalid configuration: Broker:MaxInflight must be between 1 and 65535.", tern.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("listening on", tern.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unparsable_value_exits_1_naming_the_key()
    {
        var (code, tern) = await TernProcess.RunAsync(["start", "--Broker:MaxPacketSize=big"]);
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains("Broker:MaxPacketSize", tern.Stderr, StringComparison.Ordinal);
        Assert.Contains("'big'", tern.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_key_exits_1_naming_the_key()
    {
        var (code, tern) = await TernProcess.RunAsync(["start", "--Broker:MaxInflights=5"]);
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains("Broker:MaxInflights is not a known setting", tern.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_config_file_exits_1_naming_the_file()
    {
        var (code, tern) = await TernProcess.RunAsync(["start", "-c", "no-such-tern.json"]);
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains("no-such-tern.json", tern.Stderr, StringComparison.Ordinal);
        Assert.Contains("not found", tern.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Environment_variable_is_configuration()
    {
        var (code, tern) = await TernProcess.RunAsync(["start", "-p", "0"], new Dictionary<string, string> { ["TERN_Broker__MaxInflight"] = "0" });
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains("Broker:MaxInflight", tern.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tern_json_in_the_working_directory_is_read()
    {
        var dir = Directory.CreateTempSubdirectory("tern-cli-test-").FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "tern.json"), """{ "Broker": { "MaxQueuedQoS0Messages": 0 } }""");

        var (code, tern) = await TernProcess.RunAsync(["start", "-p", "0"], workingDirectory: dir);
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains("Broker:MaxQueuedQoS0Messages", tern.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Port_in_use_exits_1_naming_address_and_port()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;

        var (code, tern) = await TernProcess.RunAsync(["start", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false"]);
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains($"127.0.0.1:{port}", tern.Stderr, StringComparison.Ordinal);
        Assert.Contains("address already in use", tern.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", tern.Stderr, StringComparison.Ordinal); // no stack trace
    }

    [Fact]
    public async Task Stray_word_is_rejected()
    {
        var (code, tern) = await TernProcess.RunAsync(["start", "Broker:MaxInflight=5"]);
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains("Broker:MaxInflight=5", tern.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("70000")]
    public async Task Bad_port_exits_1(string port)
    {
        var (code, tern) = await TernProcess.RunAsync(["start", "-p", port]);
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains($"--port must be a number between 0 and 65535, not '{port}'.", tern.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Busy_websocket_port_names_the_key_that_moves_it()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var (code, tern) = await TernProcess.RunAsync(["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Address=127.0.0.1", $"--Listeners:Ws:Port={port}", "--Dashboard:Enabled=false"]);
        await using var _ = tern;

        Assert.Equal(1, code);
        Assert.Contains(
            $"Cannot listen on ws://127.0.0.1:{port}/mqtt (Listeners:Ws): address already in use. Choose another port with --Listeners:Ws:Port=..., or turn this listener off with --Listeners:Ws:Enabled=false.",
            tern.Stderr,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Port_0_on_127_0_0_1_takes_free_ports_there_for_websocket_and_dashboard_too()
    {
        // As docs/configuration.md's "broker for tests": nothing but -p 0 and the address. Two side by side.
        string[] args = ["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1"];
        await using var first = TernProcess.Start(args);
        await using var second = TernProcess.Start(args);

        foreach (var tern in (TernProcess[])[first, second])
        {
            var line = await tern.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
            Assert.Matches(@"listening on mqtt://127\.0\.0\.1:\d+, ws://127\.0\.0\.1:\d+/mqtt$", line);
            Assert.DoesNotContain(":8083/", line, StringComparison.Ordinal);
            var dashboard = await tern.WaitForLineAsync(l => l.Contains("Dashboard and REST API on ", StringComparison.Ordinal));
            Assert.Matches(@"Dashboard and REST API on http://127\.0\.0\.1:\d+ ", dashboard);
            Assert.DoesNotContain(":18083", dashboard, StringComparison.Ordinal);
            await tern.WaitForLineAsync(l => l.Contains("Listeners:Tcp:Port is 0: Listeners:Ws and Dashboard on free ports of the TCP address too", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData(new[] { "pub", "-t", "a", "--qso", "1" }, "Unrecognized command or argument '--qso'.", "Did you mean '--qos'?", "See 'tern pub --help' for the options.")]
    [InlineData(new[] { "strat" }, "Unrecognized command or argument 'strat'.", "Did you mean 'start'?", "See 'tern --help' for the options.")]
    public async Task Unknown_flag_or_command_gets_the_hint_alone_not_the_help_page(string[] args, string error, string hint, string seeHelp)
    {
        var (code, tern) = await TernProcess.RunAsync(args);
        await using var _ = tern;

        Assert.NotEqual(0, code);
        Assert.Equal([error, hint, seeHelp], tern.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Equal("", tern.Stdout.Trim());
    }
}
