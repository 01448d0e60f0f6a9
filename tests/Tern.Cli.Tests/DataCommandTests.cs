using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Cli.Tests;

/// <summary>
/// <c>tern data export|import|check</c> run as real processes on the store of a real <c>tern start</c>:
/// state made by real clients (a persistent subscriber gone offline with queued QoS 1/2 messages, a
/// retained message), the broker stopped with SIGTERM, then backed up, checked and restored.
/// </summary>
public sealed class DataCommandTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private const string Subscriber = "data-sub";

    /// <summary>What the publisher sends to the subscriber's data/# (QoS 2 subscription): topic, payload, QoS.</summary>
    private static readonly (string Topic, string Payload, MqttQoS QoS)[] Queued =
    [
        ("data/1", "one", MqttQoS.AtLeastOnce),
        ("data/2", "two", MqttQoS.ExactlyOnce),
        ("data/3", "three", MqttQoS.AtLeastOnce),
        ("data/4", "four", MqttQoS.ExactlyOnce),
    ];

    private readonly List<string> _directories = [];
    private readonly List<TernProcess> _processes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    // xunit 2 ends a test class through IAsyncLifetime, not IAsyncDisposable: without it the broker outlived the test.
    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        foreach (var directory in _directories)
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Export_check_and_import_carry_a_session_with_its_queued_messages_and_a_retained_message_to_a_new_broker()
    {
        var original = NewDirectory();
        await MakeStateAsync(original);

        var export = await TernAsync(original, "data", "export", "backup.json");
        Assert.True(export.Code == 0, export.Stderr);
        var backup = Path.Combine(original, "backup.json");
        var document = JsonNode.Parse(await File.ReadAllTextAsync(backup))!;
        Assert.Equal("tern-store", (string?)document["format"]);
        Assert.Equal(1, (int?)document["version"]);
        var session = Assert.Single(document["sessions"]!.AsArray())!;
        Assert.Equal(Subscriber, (string?)session["clientId"]);
        Assert.Equal(Queued.Length, session["deliveries"]!.AsArray().Count);
        var messages = document["messages"]!.AsArray().ToDictionary(m => (long)m!["id"]!, m => m!);
        Assert.Equal(
            Queued.Select(q => q.Payload),
            session["deliveries"]!.AsArray().Select(d => Encoding.UTF8.GetString(Convert.FromBase64String((string)messages[(long)d!["messageId"]!]["payload"]!))));
        var retained = Assert.Single(document["retained"]!.AsArray())!;
        Assert.Equal("config/site", (string?)retained["topic"]);

        var check = await TernAsync(original, "data", "check");
        Assert.True(check.Code == 0, check.Stdout + check.Stderr);
        AssertCounts(check.Stdout, sessions: 1, deliveries: Queued.Length, retained: 1);
        Assert.Equal("ok", Lines(check.Stdout)[^1]);

        // Restored elsewhere, as on a new machine: import, check, start, and the subscriber finds it all.
        var restored = NewDirectory();
        var import = await TernAsync(restored, "data", "import", backup);
        Assert.True(import.Code == 0, import.Stderr);
        var checkRestored = await TernAsync(restored, "data", "check");
        Assert.True(checkRestored.Code == 0, checkRestored.Stdout + checkRestored.Stderr);
        AssertCounts(checkRestored.Stdout, sessions: 1, deliveries: Queued.Length, retained: 1);

        var (broker, port) = await StartBrokerAsync(restored);
        var received = new ConcurrentDictionary<string, MqttMessage>();
        var present = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (var subscriber = new MqttClient(new MqttClientOptions { Uri = Uri(port), ClientId = Subscriber, CleanSession = false }))
        {
            subscriber.Data += (_, e) => received[e.Message.Topic] = e.Message;
            subscriber.Connected += (_, e) => present.TrySetResult(e.SessionPresent);
            await subscriber.StartAsync();
            Assert.True(await present.Task.WaitAsync(Timeout), "the imported session was not resumed (session present 0)");
            await WaitUntilAsync(() => received.Count == Queued.Length, $"the {Queued.Length} queued messages");
            foreach (var (topic, payload, qos) in Queued)
            {
                Assert.Equal(payload, received[topic].PayloadText);
                Assert.Equal(qos, received[topic].QoS);
            }

            // And its subscription came along: a new message reaches it.
            await using var publisher = new MqttClient(new MqttClientOptions { Uri = Uri(port), ClientId = "data-pub-2" });
            await ConnectedAsync(publisher);
            Assert.True((await publisher.PublishAsync("data/5", "five", MqttQoS.AtLeastOnce).WaitAsync(Timeout)).IsSuccess);
            await WaitUntilAsync(() => received.ContainsKey("data/5"), "a new message on the imported subscription");
        }

        var site = new TaskCompletionSource<MqttMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (var late = new MqttClient(new MqttClientOptions { Uri = Uri(port), ClientId = "data-late" }))
        {
            late.Data += (_, e) => site.TrySetResult(e.Message);
            await ConnectedAsync(late);
            Assert.True((await late.SubscribeAsync("config/#", MqttQoS.AtLeastOnce).WaitAsync(Timeout)).IsSuccess);
            var message = await site.Task.WaitAsync(Timeout);
            Assert.Equal("site-config", message.PayloadText);
            Assert.True(message.Retain);
        }

        await StopAsync(broker);
    }

    [Fact]
    public async Task Check_reports_a_store_whose_pages_were_overwritten()
    {
        var directory = NewDirectory();

        // Enough queued payload for the messages to fill many pages, so the overwritten middle is data.
        await MakeStateAsync(directory, extra: 40, extraSize: 1000);
        var store = Path.Combine(directory, "data");
        var segment = Path.Combine(store, "00000001.log");
        var before = await TernAsync(directory, "data", "check");
        Assert.True(before.Code == 0, before.Stdout + before.Stderr);

        var length = new FileInfo(segment).Length;
        await using (var file = new FileStream(segment, FileMode.Open, FileAccess.Write))
        {
            file.Position = length / 4;
            file.Write(Enumerable.Repeat((byte)0xA5, (int)(length / 2)).ToArray());
        }

        var check = await TernAsync(directory, "data", "check");

        Assert.Equal(1, check.Code);
        Assert.DoesNotContain("ok", Lines(check.Stdout));
        Assert.Contains(Lines(check.Stdout), l => l.StartsWith("problem: 00000001.log is corrupt: a frame fails its checksum at byte ", StringComparison.Ordinal));
        Assert.Contains(store, check.Stderr, StringComparison.Ordinal);

        // What cannot be read is not exported as if it were all.
        var export = await TernAsync(directory, "data", "export", "partial.json");
        Assert.Equal(1, export.Code);
        Assert.Contains("00000001.log is corrupt", export.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(directory, "partial.json")));
    }

    /// <summary>On a SQLite store (Persistence:Engine=sqlite), which can be damaged row by row; the export, imported with the default engine, is the way from one engine to the other.</summary>
    [Fact]
    public async Task Check_reports_references_to_missing_rows_and_export_leaves_them_out()
    {
        var directory = NewDirectory();
        await File.WriteAllTextAsync(Path.Combine(directory, "tern.json"), """{ "Persistence": { "Engine": "sqlite" } }""");
        await MakeStateAsync(directory);
        var store = Path.Combine(directory, "data", "tern.db");

        // Damage a store could take from outside the broker: a message row gone, a subscription of no session.
        await using (var connection = new SqliteConnection($"Data Source={store};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM messages WHERE topic = 'data/2'; INSERT INTO subscriptions VALUES ('ghost', 'x/#', 1, 0, 0, 0, NULL);";
            await command.ExecuteNonQueryAsync();
        }

        var check = await TernAsync(directory, "data", "check");
        Assert.Equal(1, check.Code);
        var lines = Lines(check.Stdout);
        Assert.DoesNotContain("ok", lines);
        Assert.Contains(lines, l => l.StartsWith("problem: deliveries whose message is missing: 1 (client 'data-sub' #", StringComparison.Ordinal));
        Assert.Contains("problem: subscriptions of a missing session: 1 (client 'ghost' 'x/#')", lines);

        // The export keeps what is whole; imported, it checks clean.
        var export = await TernAsync(directory, "data", "export", "backup.json");
        Assert.True(export.Code == 0, export.Stderr);
        Assert.Contains("Left out", export.Stderr, StringComparison.Ordinal);
        var repaired = NewDirectory();
        Assert.Equal(0, (await TernAsync(repaired, "data", "import", Path.Combine(directory, "backup.json"))).Code);
        var after = await TernAsync(repaired, "data", "check");
        Assert.True(after.Code == 0, after.Stdout + after.Stderr);
        AssertCounts(after.Stdout, sessions: 1, deliveries: Queued.Length - 1, retained: 1);
    }

    [Fact]
    public async Task Import_refuses_a_store_that_holds_data_unless_forced_and_then_replaces_all_of_it()
    {
        var directory = NewDirectory();
        await MakeStateAsync(directory);
        Assert.Equal(0, (await TernAsync(directory, "data", "export", "backup.json")).Code);
        var backup = Path.Combine(directory, "backup.json");
        var store = Path.Combine(directory, "data");

        var refused = await TernAsync(directory, "data", "import", backup);
        Assert.Equal(1, refused.Code);
        Assert.Contains($"The store {store} already holds data", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("--force", refused.Stderr, StringComparison.Ordinal);

        // A different document: no retained message any more, one queued message fewer.
        var document = JsonNode.Parse(await File.ReadAllTextAsync(backup))!;
        document["retained"] = new JsonArray();
        document["sessions"]![0]!["deliveries"]!.AsArray().RemoveAt(0);
        var edited = Path.Combine(directory, "edited.json");
        await File.WriteAllTextAsync(edited, document.ToJsonString());

        var forced = await TernAsync(directory, "data", "import", edited, "--force");
        Assert.True(forced.Code == 0, forced.Stderr);
        var check = await TernAsync(directory, "data", "check");
        Assert.True(check.Code == 0, check.Stdout + check.Stderr);
        AssertCounts(check.Stdout, sessions: 1, deliveries: Queued.Length - 1, retained: 0);
        Assert.Contains($"messages: {Queued.Length - 1} ", check.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_check_and_import_of_a_store_a_running_broker_holds_fail_with_one_line()
    {
        var directory = NewDirectory();
        var (broker, port) = await StartBrokerAsync(directory);
        var store = Path.Combine(directory, "data");

        foreach (var args in new[] { new[] { "data", "export", "out.json" }, ["data", "check"], ["data", "import", "out.json", "--force"] })
        {
            if (args[1] == "import")
            {
                await File.WriteAllTextAsync(Path.Combine(directory, "out.json"), """{ "format": "tern-store", "version": 1 }""");
            }

            var result = await TernAsync(directory, args);
            Assert.Equal(1, result.Code);
            var line = Assert.Single(Lines(result.Stderr));
            Assert.Contains(store, line, StringComparison.Ordinal);
            Assert.Contains("in use by another process, most likely a running Tern broker", line, StringComparison.Ordinal);
            if (args[1] == "export")
            {
                Assert.False(File.Exists(Path.Combine(directory, "out.json")), "a failed export left a file");
            }
        }

        // The broker still has its store and its clients.
        await using (var client = new MqttClient(new MqttClientOptions { Uri = Uri(port), ClientId = "data-after", CleanSession = false }))
        {
            await ConnectedAsync(client);
            Assert.True((await client.SubscribeAsync("after/#", MqttQoS.AtLeastOnce).WaitAsync(Timeout)).IsSuccess);
        }

        await StopAsync(broker);
    }

    [Fact]
    public async Task Bad_files_and_missing_stores_are_named_with_the_line_and_field()
    {
        var directory = NewDirectory();

        var missing = await TernAsync(directory, "data", "import", "nothere.json");
        Assert.Equal(1, missing.Code);
        Assert.Contains($"{Path.Combine(directory, "nothere.json")} does not exist", missing.Stderr, StringComparison.Ordinal);

        var syntax = await WriteAndImportAsync(directory, "syntax.json", "{\n  \"format\": \"tern-store\",\n  \"version\": 1,\n  \"sessions\": [ {\n}");
        Assert.Contains("syntax.json, line 5:", syntax, StringComparison.Ordinal);

        var wrongType = await WriteAndImportAsync(
            directory,
            "type.json",
            "{\n  \"format\": \"tern-store\",\n  \"version\": 1,\n  \"messages\": [\n    { \"id\": 1, \"topic\": \"a\", \"payload\": \"aGk=\", \"qos\": \"high\", \"created\": \"2026-01-01T00:00:00Z\" }\n  ]\n}");
        Assert.Contains("type.json, line 5: messages[0].qos", wrongType, StringComparison.Ordinal);

        var dangling = await WriteAndImportAsync(
            directory,
            "dangling.json",
            """{ "format": "tern-store", "version": 1, "sessions": [ { "clientId": "c", "expiryInterval": 60, "deliveries": [ { "sequence": 1, "messageId": 7, "qos": 1 } ] } ] }""");
        Assert.Contains("dangling.json: sessions[0].deliveries[0].messageId 7 is not the id of any of messages[]", dangling, StringComparison.Ordinal);

        var notOurs = await WriteAndImportAsync(directory, "other.json", """{ "format": "something-else", "version": 1 }""");
        Assert.Contains("other.json: format is \"something-else\"", notOurs, StringComparison.Ordinal);

        // Nothing was created by the refused imports.
        Assert.False(Directory.Exists(Path.Combine(directory, "data")));

        var noStore = await TernAsync(directory, "data", "check");
        Assert.Equal(1, noStore.Code);
        Assert.Contains($"No store at {Path.Combine(directory, "data")}.", noStore.Stderr, StringComparison.Ordinal);

        // Without --dir the directory comes from the configuration, as for 'tern start'.
        await File.WriteAllTextAsync(Path.Combine(directory, "tern.json"), """{ "Persistence": { "Directory": "state" } }""");
        var configured = await TernAsync(directory, "data", "export", "-");
        Assert.Equal(1, configured.Code);
        Assert.Contains($"No store at {Path.Combine(directory, "state")}.", configured.Stderr, StringComparison.Ordinal);
    }

    private async Task<string> WriteAndImportAsync(string directory, string name, string content)
    {
        await File.WriteAllTextAsync(Path.Combine(directory, name), content);
        var result = await TernAsync(directory, "data", "import", name);
        Assert.Equal(1, result.Code);
        var line = Assert.Single(Lines(result.Stderr));
        Assert.Contains(Path.Combine(directory, name), line, StringComparison.Ordinal);
        return line;
    }

    /// <summary>
    /// A broker in <paramref name="directory"/>; the subscriber subscribes to data/# (QoS 2) and goes
    /// offline; the publisher sends <see cref="Queued"/> (and <paramref name="extra"/> more of
    /// <paramref name="extraSize"/> bytes) and a retained message; the broker stops with SIGTERM.
    /// </summary>
    private async Task MakeStateAsync(string directory, int extra = 0, int extraSize = 0)
    {
        var (broker, port) = await StartBrokerAsync(directory);
        await using (var subscriber = new MqttClient(new MqttClientOptions { Uri = Uri(port), ClientId = Subscriber, CleanSession = false }))
        {
            await ConnectedAsync(subscriber);
            Assert.True((await subscriber.SubscribeAsync("data/#", MqttQoS.ExactlyOnce).WaitAsync(Timeout)).IsSuccess);
            await subscriber.DisconnectAsync();
        }

        await using (var publisher = new MqttClient(new MqttClientOptions { Uri = Uri(port), ClientId = "data-pub" }))
        {
            await ConnectedAsync(publisher);

            // Each acknowledgement comes once the message is in the store.
            foreach (var (topic, payload, qos) in Queued)
            {
                Assert.True((await publisher.PublishAsync(topic, payload, qos).WaitAsync(Timeout)).IsSuccess);
            }

            for (var i = 0; i < extra; i++)
            {
                var payload = new string((char)('a' + (i % 26)), extraSize);
                Assert.True((await publisher.PublishAsync($"data/extra/{i}", payload, MqttQoS.AtLeastOnce).WaitAsync(Timeout)).IsSuccess);
            }

            Assert.True((await publisher.PublishAsync("config/site", "site-config", MqttQoS.AtLeastOnce, retain: true).WaitAsync(Timeout)).IsSuccess);
            await publisher.DisconnectAsync();
        }

        await StopAsync(broker);
    }

    private async Task<(TernProcess Broker, int Port)> StartBrokerAsync(string directory)
    {
        var broker = TernProcess.Start(
            ["start", "-p", "0", "--Listeners:Tcp:Address=127.0.0.1", "--Listeners:Ws:Enabled=false", "--Dashboard:Enabled=false", "--Broker:SysIntervalSeconds=0"],
            workingDirectory: directory);
        _processes.Add(broker);
        return (broker, await broker.WaitForMqttPortAsync(Timeout));
    }

    [Fact]
    public async Task Bans_added_at_run_time_are_exported_and_imported()
    {
        var source = NewDirectory();
        var store = new Dictionary<string, string?> { ["Persistence:Mode"] = "durable", ["Persistence:Directory"] = Path.Combine(source, "data") };
        await using (var broker = await Tern.TestKit.TestBroker.StartAsync(store))
        {
            broker.Server.Broker.Bans.Add(new Tern.Broker.Ban(Tern.Broker.BanKind.ClientId, "rogue-device", null, "operator"));
        }

        var export = Path.Combine(source, "backup.json");
        var (code, _, stderr) = await TernAsync(source, "data", "export", export);
        Assert.True(code == 0, stderr);
        var ban = JsonNode.Parse(await File.ReadAllTextAsync(export))!["bans"]!.AsArray().Single()!;
        Assert.Equal(("clientId", "rogue-device", "operator"), ((string)ban["kind"]!, (string)ban["value"]!, (string)ban["reason"]!));

        var target = NewDirectory();
        (code, _, stderr) = await TernAsync(target, "data", "import", export);
        Assert.True(code == 0, stderr);
        await using (var broker = await Tern.TestKit.TestBroker.StartAsync(new Dictionary<string, string?> { ["Persistence:Mode"] = "durable", ["Persistence:Directory"] = Path.Combine(target, "data") }))
        {
            await using var rogue = await broker.OpenRawAsync();
            Assert.NotEqual(0, (await rogue.ConnectAsync("rogue-device")).ReasonCode);
        }
    }

    private static async Task StopAsync(TernProcess broker)
    {
        await broker.SendSignalAsync("TERM");
        Assert.Equal(0, await broker.WaitForExitAsync(Timeout));
    }

    private async Task<(int Code, string Stdout, string Stderr)> TernAsync(string directory, params string[] args)
    {
        var (code, process) = await TernProcess.RunAsync(args, workingDirectory: directory);
        _processes.Add(process);
        return (code, process.Stdout, process.Stderr);
    }

    private string NewDirectory()
    {
        var directory = Directory.CreateTempSubdirectory("tern-data-test-").FullName;
        _directories.Add(directory);
        return directory;
    }

    private static string Uri(int port) => $"mqtt://127.0.0.1:{port}";

    private static void AssertCounts(string checkOutput, int sessions, int deliveries, int retained)
    {
        var lines = Lines(checkOutput);
        Assert.Contains($"sessions: {sessions}", lines);
        Assert.Contains($"deliveries: {deliveries}", lines);
        Assert.Contains($"retained: {retained}", lines);
    }

    private static async Task ConnectedAsync(MqttClient client)
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, _) => connected.TrySetResult();
        await client.StartAsync();
        await connected.Task.WaitAsync(Timeout);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(20);
        }
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
