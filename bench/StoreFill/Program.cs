using System.Diagnostics;
using System.Globalization;
using Tern.Broker.Persistence;
using Tern.Protocol;
using Tern.Server.Persistence;

// Fills a Tern store directory (the log engine's segments, or DIR/tern.db with --engine sqlite)
// through the store's public API, as a broker would
// have left it: retained messages, and persistent MQTT 3.1.1 sessions (disconnected), each
// subscribed to its group's filter and holding queued QoS 1 messages. A message queued for many
// sessions is stored once and referenced by each delivery, as the broker stores it.
//
//   StoreFill DIR [--retained N] [--sessions N] [--queued N] [--sharing N] [--size BYTES] [--engine log|sqlite]
//
// Defaults: 1,000,000 retained messages; 100,000 sessions with 10 queued messages each; each
// queued message held by 100 sessions (--sharing 1: a message of its own per delivery); 64-byte
// payloads. Start the broker on it with Broker:MaxRetainedMessages at least the retained count.
const int RowsPerBatch = 20_000;

var settings = Settings.Parse(args);
if (settings is null)
{
    return 2;
}

var options = new PersistenceOptions { Directory = settings.Directory, Engine = settings.Engine };
var path = options.StorePath;
if (BrokerStores.Exists(Path.GetFullPath(settings.Directory), StoreEngine.Log) || BrokerStores.Exists(Path.GetFullPath(settings.Directory), StoreEngine.Sqlite))
{
    Console.Error.WriteLine($"StoreFill: {settings.Directory} holds a store already. Remove it, or give another directory.");
    return 1;
}

var clock = Stopwatch.StartNew();
long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
var payload = new byte[settings.PayloadSize];
Random.Shared.NextBytes(payload);
long messageId = 0;
using (var store = BrokerStores.Open(options))
{
    var batch = new StoreBatch();
    void WriteIfFull(bool force = false)
    {
        if (batch.Count >= RowsPerBatch || (force && batch.Count > 0))
        {
            batch.WrittenUnixMs = now;
            store.Write(batch);
            batch.Clear();
        }
    }

    // Retained messages on a two-level tree: site/<i / 1000>/sensor/<i % 1000>.
    for (var i = 0; i < settings.Retained; i++)
    {
        var topic = string.Create(CultureInfo.InvariantCulture, $"site/{i / 1000}/sensor/{i % 1000}");
        batch.MessagesInserted.Add(new StoredMessage(++messageId, topic, payload, MqttQoS.AtLeastOnce, true, null, "storefill", now));
        batch.Retained.Add((topic, messageId));
        WriteIfFull();
    }

    // Sessions in groups of --sharing: each group's sessions subscribe to queue/<g>/# and hold the
    // same --queued messages, published to queue/<g>/<k>.
    var messages = new long[settings.Queued];
    for (var s = 0; s < settings.Sessions; s++)
    {
        int group = s / settings.Sharing;
        if (s % settings.Sharing == 0)
        {
            for (var k = 0; k < messages.Length; k++)
            {
                var topic = string.Create(CultureInfo.InvariantCulture, $"queue/{group}/{k}");
                messages[k] = ++messageId;
                batch.MessagesInserted.Add(new StoredMessage(messageId, topic, payload, MqttQoS.AtLeastOnce, false, null, "storefill", now));
            }
        }

        var clientId = string.Create(CultureInfo.InvariantCulture, $"storefill-{s}");
        batch.Sessions.Add(new StoredSession(clientId, uint.MaxValue, now, null, null, null, "127.0.0.1", "tcp"));
        batch.Subscriptions.Add(new StoredSubscription(clientId, string.Create(CultureInfo.InvariantCulture, $"queue/{group}/#"), new SubscriptionOptions(MqttQoS.AtLeastOnce), null));
        for (var k = 0; k < messages.Length; k++)
        {
            batch.Deliveries.Add(new StoredDelivery(clientId, k + 1, messages[k], MqttQoS.AtLeastOnce, false, null, null, 0, false));
        }

        WriteIfFull();
    }

    WriteIfFull(force: true);
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"StoreFill: {path}: {settings.Retained:N0} retained messages, {settings.Sessions:N0} sessions with {settings.Queued} queued messages each ({messageId:N0} messages stored) in {clock.Elapsed.TotalSeconds:F1} s"));
}

var bytes = Directory.EnumerateFiles(Path.GetFullPath(settings.Directory)).Sum(f => new FileInfo(f).Length);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"StoreFill: {bytes / 1024.0 / 1024:F0} MiB on disk"));
return 0;

/// <summary>The command line: the directory and the sizes.</summary>
internal sealed record Settings(string Directory, int Retained, int Sessions, int Queued, int Sharing, int PayloadSize, StoreEngine Engine)
{
    /// <summary>Parses the arguments; null (after printing why) when they are wrong.</summary>
    public static Settings? Parse(string[] args)
    {
        string? directory = null;
        var engine = StoreEngine.Log;
        var values = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["--retained"] = 1_000_000,
            ["--sessions"] = 100_000,
            ["--queued"] = 10,
            ["--sharing"] = 100,
            ["--size"] = 64,
        };
        for (var i = 0; i < args.Length; i++)
        {
            if (values.ContainsKey(args[i]))
            {
                if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                {
                    Console.Error.WriteLine($"StoreFill: {args[i]} needs a whole number of 0 or more.");
                    return null;
                }

                values[args[i++]] = value;
            }
            else if (args[i] == "--engine" && i + 1 < args.Length && Enum.TryParse<StoreEngine>(args[i + 1], ignoreCase: true, out var parsed))
            {
                engine = parsed;
                i++;
            }
            else if (directory is null && !args[i].StartsWith('-'))
            {
                directory = args[i];
            }
            else
            {
                Console.Error.WriteLine($"StoreFill: unknown argument '{args[i]}'. Usage: StoreFill DIR [--retained N] [--sessions N] [--queued N] [--sharing N] [--size BYTES] [--engine log|sqlite]");
                return null;
            }
        }

        if (directory is null)
        {
            Console.Error.WriteLine("StoreFill: give the store directory to fill (the broker's Persistence:Directory).");
            return null;
        }

        if (values["--sharing"] < 1)
        {
            Console.Error.WriteLine("StoreFill: --sharing must be 1 or more (sessions that hold each queued message).");
            return null;
        }

        return new Settings(directory, values["--retained"], values["--sessions"], values["--queued"], values["--sharing"], values["--size"], engine);
    }
}
