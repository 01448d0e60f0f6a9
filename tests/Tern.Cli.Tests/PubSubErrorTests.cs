namespace Tern.Cli.Tests;

/// <summary>What tern pub/sub print when they cannot do their job: one line on stderr, nonzero exit.</summary>
public sealed class PubSubErrorTests
{
    [Theory]
    [InlineData("pub", "311", "Connection refused: not authorized (CONNACK 0x05)")]
    [InlineData("sub", "311", "Connection refused: not authorized (CONNACK 0x05)")]
    [InlineData("pub", "5", "Connection refused: not authorized (CONNACK 0x87)")]
    public async Task Refused_connection_names_the_CONNACK_code_and_its_meaning(string command, string version, string expected)
    {
        await using var broker = await MosquittoBroker.StartAsync(allowAnonymous: false);
        string[] rest = command == "pub" ? ["-t", "t", "-m", "m"] : ["-t", "t"];

        var (code, tern) = await PubSubProcess.RunTernAsync([command, .. ((IPubSubBroker)broker).HostPort, "-V", version, .. rest]);

        Assert.Equal(1, code);
        Assert.Equal(expected, tern.Stderr.Trim());
        Assert.Empty(tern.Stdout);
    }

    [Theory]
    [InlineData("pub")]
    [InlineData("sub")]
    public async Task Unreachable_broker_says_where_it_tried_and_why(string command)
    {
        int port = MosquittoBroker.FreePort(); // nothing listens there
        string[] rest = command == "pub" ? ["-t", "t", "-m", "m"] : ["-t", "t"];

        var (code, tern) = await PubSubProcess.RunTernAsync([command, "-h", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. rest]);

        Assert.Equal(1, code);
        Assert.Equal($"Cannot connect to 127.0.0.1:{port}: Connection refused", tern.Stderr.Trim());
    }

    [Theory]
    // MQTT 3.1.1 cannot announce limits: the broker closes the connection, and tern pub says so once.
    [InlineData("Broker:MaximumQoS", "1", "311", "2", 1, "Error: the broker closed the connection after the publish (it may not accept QoS 2 or messages of 1 byte)")]
    [InlineData("Broker:MaxPacketSize", "100", "311", "1", 300, "Error: the broker closed the connection after the publish (it may not accept QoS 1 or messages of 300 bytes)")]
    // MQTT 5: the CONNACK announced the limits, so nothing is sent.
    [InlineData("Broker:MaximumQoS", "1", "5", "2", 1, "Error: QoS 2 is above the server's maximum QoS 1 (from its CONNACK).")]
    [InlineData("Broker:MaxPacketSize", "100", "5", "1", 300, "Error: The message is 309 bytes as a PUBLISH packet, above the server's maximum packet size of 100 bytes (from its CONNACK).")]
    [InlineData("Broker:MaxPacketSize", "100", "5", "0", 300, "Error: The message is 307 bytes as a PUBLISH packet, above the server's maximum packet size of 100 bytes (from its CONNACK).")]
    public async Task A_publish_above_the_broker_limits_gets_one_accurate_line(string key, string value, string version, string qos, int size, string expected)
    {
        await using var broker = await TernBroker.StartAsync(settings: new Dictionary<string, string?> { [key] = value });

        var (code, tern) = await PubSubProcess.RunTernAsync(
            ["pub", .. ((IPubSubBroker)broker).HostPort, "-V", version, "-q", qos, "-t", "t", "-m", new string('x', size)]);

        Assert.Equal(1, code);
        Assert.Equal(expected, tern.Stderr.Trim());
        Assert.Empty(tern.Stdout);
    }

    [Theory]
    [InlineData("311")]
    [InlineData("5")]
    public async Task A_publish_within_the_broker_limits_goes_through(string version)
    {
        await using var broker = await TernBroker.StartAsync(settings: new Dictionary<string, string?> { ["Broker:MaximumQoS"] = "1", ["Broker:MaxPacketSize"] = "100" });

        var (code, tern) = await PubSubProcess.RunTernAsync(
            ["pub", .. ((IPubSubBroker)broker).HostPort, "-V", version, "-q", "1", "-t", "t", "-m", new string('x', 80)]);

        Assert.Equal("", tern.Stderr);
        Assert.Equal(0, code);
    }

    [Theory]
    [InlineData("311", "The server closed the connection")]
    [InlineData("5", "the broker disconnected: server shutting down (DISCONNECT 0x8B): broker shutting down")]
    public async Task Sub_reports_a_lost_connection_once(string version, string why)
    {
        var broker = await TernBroker.StartAsync();
        int port = broker.Port;
        await using var sub = await PubSubTests.StartSubAsync(broker, "-V", version, "-t", "t");

        await broker.DisposeAsync();
        string lost = await sub.WaitForLineAsync(l => l.StartsWith("Connection to", StringComparison.Ordinal));

        Assert.Equal($"Connection to 127.0.0.1:{port} lost: {why}; reconnecting.", lost);
        // The loss is not also reported as a failed connect; only the reconnect attempts after it are.
        string before = sub.Stderr[..sub.Stderr.IndexOf(lost, StringComparison.Ordinal)];
        Assert.DoesNotContain("Cannot connect", before, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Error: -q must be 0, 1 or 2, not 3.", "pub", "-t", "t", "-m", "m", "-q", "3")]
    [InlineData("Error: Give a message with -m, -f file, -s (stdin), -l (stdin lines) or -n (empty).", "pub", "-t", "t")]
    [InlineData("Error: Give only one of -m, -f, -s, -l and -n.", "pub", "-t", "t", "-m", "m", "-n")]
    [InlineData("Error: Give a topic with -t (or in the -L URL).", "pub", "-m", "m")]
    [InlineData("Error: 'a/#' is not a valid topic to publish to (no + or #, not empty).", "pub", "-t", "a/#", "-m", "m")]
    [InlineData("Error: 'a/#/b' is not a valid topic filter (+ and # must fill a whole level, # only at the end).", "sub", "-t", "a/#/b")]
    [InlineData("Error: -V must be 311, 5 or 31, not '4'.", "sub", "-t", "t", "-V", "4")]
    [InlineData("Error: -D and -x are MQTT 5 features; use -V 5.", "pub", "-t", "t", "-m", "m", "-V", "311", "-D", "publish", "content-type", "x")]
    [InlineData("Error: -D publish: unknown or unsupported property 'colour' (known: content-type, correlation-data, message-expiry-interval, payload-format-indicator, response-topic, user-property).", "pub", "-t", "t", "-m", "m", "-D", "publish", "colour", "red")]
    [InlineData("Error: -c (keep the session) needs a client id: give it with -i, or the next run gets a new session anyway.", "sub", "-t", "t", "-c")]
    [InlineData("Error: -C must be at least 1.", "sub", "-t", "t", "-C", "0")]
    [InlineData("Error: -L must look like mqtt://[user[:password]@]host[:port]/topic or mqtts://..., not 'http://x/t'.", "sub", "-L", "http://x/t")]
    public async Task Bad_flags_get_a_one_line_error_before_connecting(string expected, params string[] args)
    {
        var (code, tern) = await PubSubProcess.RunTernAsync(args);

        Assert.Equal(1, code);
        Assert.Equal(expected, tern.Stderr.Trim());
    }

    [Fact]
    public async Task Dash_h_is_the_host_and_help_is_still_there_as_dash_question_mark()
    {
        var (code, help) = await PubSubProcess.RunTernAsync("pub", "-?");
        Assert.Equal(0, code);
        Assert.Contains("-h, --host <host>", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("-?, --help", help.Stdout, StringComparison.Ordinal);

        // "-h 127.0.0.2" is taken as the host: the connection attempt names it.
        int port = MosquittoBroker.FreePort();
        var (refused, tern) = await PubSubProcess.RunTernAsync("sub", "-h", "127.0.0.2", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "t");
        Assert.Equal(1, refused);
        Assert.StartsWith($"Cannot connect to 127.0.0.2:{port}", tern.Stderr, StringComparison.Ordinal);
    }
}
