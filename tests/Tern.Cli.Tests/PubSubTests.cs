using System.Text;
using System.Text.Json;

namespace Tern.Cli.Tests;

/// <summary><c>tern pub</c> and <c>tern sub</c> as processes, against Tern's broker and against Mosquitto.</summary>
public sealed class PubSubTests
{
    public static TheoryData<string> Brokers => [PubSubBrokers.Tern, PubSubBrokers.Mosquitto];

    public static TheoryData<string, int> BrokersAndQoS => new()
    {
        { PubSubBrokers.Tern, 0 }, { PubSubBrokers.Tern, 1 }, { PubSubBrokers.Tern, 2 },
        { PubSubBrokers.Mosquitto, 0 }, { PubSubBrokers.Mosquitto, 1 }, { PubSubBrokers.Mosquitto, 2 },
    };

    [Theory]
    [MemberData(nameof(BrokersAndQoS))]
    public async Task Sub_prints_topic_and_payload_of_what_pub_sends(string kind, int qos)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        string q = qos.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var sub = await StartSubAsync(broker, "-t", "t/+", "-q", q, "-v", "-C", "1");

        await PubAsync(broker, "-t", "t/q", "-q", q, "-m", "订阅成功 hello");

        Assert.Equal(0, await sub.WaitForExitAsync());
        Assert.Equal(["t/q 订阅成功 hello"], sub.StdoutLines);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task Retained_message_is_printed_to_a_later_sub_and_pub_n_r_clears_it(string kind)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        await PubAsync(broker, "-t", "r/1", "-m", "kept", "-r", "-q", "1");

        var (code, json) = await RunTernAsync(broker, "sub", "-t", "r/#", "--json", "-C", "1");
        Assert.Equal(0, code);
        using (var doc = JsonDocument.Parse(json.StdoutLines.Single()))
        {
            Assert.Equal("r/1", doc.RootElement.GetProperty("topic").GetString());
            Assert.Equal("kept", doc.RootElement.GetProperty("payload").GetString());
            Assert.True(doc.RootElement.GetProperty("retain").GetBoolean());
        }

        await PubAsync(broker, "-t", "r/1", "-n", "-r");
        var (timedOut, empty) = await RunTernAsync(broker, "sub", "-t", "r/#", "-W", "1");
        Assert.Equal(27, timedOut);
        Assert.Empty(empty.Stdout);
        Assert.Contains("Timed out", empty.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task Pub_l_sends_each_stdin_line_and_pub_s_sends_all_of_stdin(string kind)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        await using var sub = await StartSubAsync(broker, "-t", "lines", "-q", "1", "-C", "4");

        await using (var lines = PubSubProcess.Tern(["pub", .. broker.HostPort, "-t", "lines", "-q", "1", "-l"], "one\n\ntwo\nthree\n"u8.ToArray()))
        {
            Assert.Equal(0, await lines.WaitForExitAsync());
        }

        await using (var all = PubSubProcess.Tern(["pub", .. broker.HostPort, "-t", "lines", "-s"], "whole stdin"u8.ToArray()))
        {
            Assert.Equal(0, await all.WaitForExitAsync());
        }

        Assert.Equal(0, await sub.WaitForExitAsync());
        Assert.Equal(["one", "two", "three", "whole stdin"], sub.StdoutLines);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task Pub_f_sends_a_binary_file_that_sub_json_shows_as_base64(string kind)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        byte[] bytes = [0xFF, 0x00, 0x01, 0x80];
        string file = Path.Combine(Directory.CreateTempSubdirectory("tern-pub-f-").FullName, "payload.bin");
        await File.WriteAllBytesAsync(file, bytes);
        await using var sub = await StartSubAsync(broker, "-t", "bin", "-q", "2", "--json", "-C", "1");

        await PubAsync(broker, "-t", "bin", "-f", file, "-q", "2");

        Assert.Equal(0, await sub.WaitForExitAsync());
        using var doc = JsonDocument.Parse(sub.StdoutLines.Single());
        Assert.Equal(Convert.ToBase64String(bytes), doc.RootElement.GetProperty("payload").GetString());
        Assert.Equal("base64", doc.RootElement.GetProperty("encoding").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("qos").GetInt32());
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task Sub_C_exits_after_count_messages(string kind)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        await using var sub = await StartSubAsync(broker, "-t", "c", "-q", "1", "-C", "2");

        await PubAsync(broker, "1\n2\n3\n", ["-t", "c", "-q", "1", "-l"]);

        Assert.Equal(0, await sub.WaitForExitAsync());
        Assert.Equal(["1", "2"], sub.StdoutLines);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task Mqtt5_properties_given_with_D_arrive_in_sub_json(string kind)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        await using var sub = await StartSubAsync(broker, "-V", "5", "-t", "p5", "--json", "-C", "1", "-D", "subscribe", "subscription-identifier", "7");

        await PubAsync(broker, "-V", "5", "-t", "p5", "-m", "m", "-q", "1",
            "-D", "publish", "user-property", "k1", "v1", "-D", "publish", "user-property", "k2", "v2",
            "-D", "publish", "content-type", "text/plain", "-D", "publish", "response-topic", "re/ply",
            "-D", "publish", "correlation-data", "abc", "-D", "publish", "message-expiry-interval", "300");

        Assert.Equal(0, await sub.WaitForExitAsync());
        using var doc = JsonDocument.Parse(sub.StdoutLines.Single());
        var p = doc.RootElement.GetProperty("properties");
        Assert.Equal("""[["k1","v1"],["k2","v2"]]""", p.GetProperty("user-property").GetRawText());
        Assert.Equal("text/plain", p.GetProperty("content-type").GetString());
        Assert.Equal("re/ply", p.GetProperty("response-topic").GetString());
        Assert.Equal("abc", p.GetProperty("correlation-data").GetString());
        Assert.InRange(p.GetProperty("message-expiry-interval").GetInt32(), 1, 300);
        Assert.Equal("[7]", p.GetProperty("subscription-identifier").GetRawText());
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task Will_is_published_when_a_sub_dies_without_disconnecting(string kind)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        await using var watcher = await StartSubAsync(broker, "-t", "will/#", "-v", "-C", "1");
        await using (var dying = await StartSubAsync(broker, "-t", "x", "--will-topic", "will/t", "--will-payload", "gone", "--will-qos", "1"))
        {
            await dying.KillAsync();
        }

        Assert.Equal(0, await watcher.WaitForExitAsync());
        Assert.Equal(["will/t gone"], watcher.StdoutLines);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task Sub_c_keeps_the_session_and_gets_messages_sent_while_it_was_away(string kind)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        string id = "persist-" + kind;
        var (created, _) = await RunTernAsync(broker, "sub", "-c", "-i", id, "-q", "1", "-t", "away", "-E");
        Assert.Equal(0, created);

        await PubAsync(broker, "-t", "away", "-q", "1", "-m", "queued while offline");

        var (code, sub) = await RunTernAsync(broker, "sub", "-c", "-i", id, "-q", "1", "-t", "away", "-C", "1", "-d");
        Assert.Equal(0, code);
        Assert.Contains("session present: yes", sub.Stderr, StringComparison.Ordinal);
        Assert.Equal(["queued while offline"], sub.StdoutLines);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task Tern_sub_prints_what_mosquitto_pub_sends(string kind)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        await using var sub = await StartSubAsync(broker, "-t", "interop/#", "-v", "-q", "2", "-C", "2");

        foreach (var (qos, text) in new[] { ("1", "from mosquitto_pub"), ("2", "二") })
        {
            await using var pub = PubSubProcess.Start("/usr/bin/mosquitto_pub", [.. broker.HostPort, "-t", "interop/m", "-q", qos, "-m", text]);
            Assert.Equal(0, await pub.WaitForExitAsync());
        }

        Assert.Equal(0, await sub.WaitForExitAsync());
        Assert.Equal(["interop/m from mosquitto_pub", "interop/m 二"], sub.StdoutLines);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task Mosquitto_sub_prints_what_tern_pub_sends(string kind)
    {
        await using var broker = await PubSubBrokers.StartAsync(kind);
        // stdbuf: mosquitto_sub's -d lines go to a block-buffered stdout when it is a pipe.
        await using var sub = PubSubProcess.Start("/usr/bin/stdbuf", ["-oL", "/usr/bin/mosquitto_sub", .. broker.HostPort, "-t", "interop/#", "-v", "-q", "1", "-C", "1", "-d"]);
        await sub.WaitForLineAsync("received SUBACK");

        await PubAsync(broker, "-t", "interop/t", "-q", "1", "-m", "from tern pub");

        Assert.Equal(0, await sub.WaitForExitAsync());
        Assert.Contains("interop/t from tern pub", sub.StdoutLines);
    }

    [Fact]
    public async Task Pub_L_url_carries_host_port_and_topic()
    {
        await using var broker = await PubSubBrokers.StartAsync(PubSubBrokers.Tern);
        string url = $"mqtt://127.0.0.1:{broker.Port}/";
        await using var sub = PubSubProcess.Tern(["sub", "-L", url + "%2Ftopic%2F%23", "-v", "-C", "1", "-d"]);
        await sub.WaitForLineAsync("Subscribed");

        var (code, pub) = await PubSubProcess.RunTernAsync("pub", "-L", url + "%2Ftopic%2Fqos0", "-m", "via url");

        Assert.Equal(0, code);
        Assert.Equal(0, await sub.WaitForExitAsync());
        Assert.Equal(["/topic/qos0 via url"], sub.StdoutLines);
        await pub.DisposeAsync();
    }

    internal static async Task<PubSubProcess> StartSubAsync(IPubSubBroker broker, params string[] args)
    {
        // -d prints "Subscribed (mid: n): ..." on stderr once the SUBACK came: the readiness signal.
        var sub = PubSubProcess.Tern(["sub", .. broker.HostPort, "-d", .. args]);
        await sub.WaitForLineAsync("Subscribed");
        return sub;
    }

    internal static Task PubAsync(IPubSubBroker broker, params string[] args) => PubAsync(broker, stdin: null, args);

    /// <summary>Runs tern pub to completion and asserts exit code 0; <paramref name="stdin"/> feeds -l/-s.</summary>
    private static async Task PubAsync(IPubSubBroker broker, string? stdin, string[] args)
    {
        await using var pub = PubSubProcess.Tern(["pub", .. broker.HostPort, .. args], stdin is null ? null : Encoding.UTF8.GetBytes(stdin));
        int code = await pub.WaitForExitAsync();
        Assert.True(code == 0, $"tern pub exited with {code}: {pub.Stderr}");
    }

    private static async Task<(int Code, PubSubProcess Process)> RunTernAsync(IPubSubBroker broker, string command, params string[] args)
    {
        var tern = PubSubProcess.Tern([command, .. broker.HostPort, .. args]);
        return (await tern.WaitForExitAsync(), tern);
    }
}
