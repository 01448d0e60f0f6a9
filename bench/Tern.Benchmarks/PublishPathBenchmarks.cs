using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Benchmarks;

/// <summary>
/// The broker's publish path end to end, in-process over pipes: one publisher writes a batch of QoS 0
/// PUBLISHes, the broker decodes, matches against its subscription index and writes to the
/// subscribers, whose readers count the deliveries. One operation = one message published.
/// <see cref="Subscriptions"/> filters are spread over 100 subscriber connections (at most); exactly
/// one of them matches each message, so the figure shows how matching scales with the index size.
/// </summary>
[MemoryDiagnoser]
public class PublishPathBenchmarks
{
    private const int Batch = 200;
    private const int Topics = 50;
    private MqttBroker _broker = null!;
    private InMemoryClient _publisher = null!;
    private readonly List<InMemoryClient> _subscribers = [];
    private byte[] _batch = [];

    [Params(1, 1_000, 100_000)]
    public int Subscriptions { get; set; }

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        _broker = new MqttBroker(new BrokerOptions { SysIntervalSeconds = 0, MaxQueuedQoS0Messages = 1_000_000 });
        int connections = Math.Min(100, Subscriptions);
        var filters = new List<string>[connections];
        for (var c = 0; c < connections; c++)
        {
            filters[c] = [];
        }

        // Filter i: "site/{i}/+/temp"; the messages go to "site/{k}/dev/temp" for k < Topics, each matching one filter.
        for (var i = 0; i < Subscriptions; i++)
        {
            filters[i % connections].Add(string.Create(CultureInfo.InvariantCulture, $"site/{i}/+/temp"));
        }

        for (var c = 0; c < connections; c++)
        {
            var subscriber = await InMemoryClient.ConnectAsync(_broker, $"sub-{c}").ConfigureAwait(false);
            await subscriber.SubscribeAsync(filters[c]).ConfigureAwait(false);
            subscriber.StartCounting();
            _subscribers.Add(subscriber);
        }

        _publisher = await InMemoryClient.ConnectAsync(_broker, "pub").ConfigureAwait(false);
        var writer = new ArrayBufferWriter<byte>();
        byte[] payload = new byte[64];
        for (var k = 0; k < Batch; k++)
        {
            string topic = string.Create(CultureInfo.InvariantCulture, $"site/{k % Math.Min(Topics, Subscriptions)}/dev/temp");
            MqttEncoder.WritePublish(writer, MqttProtocolVersion.V311, System.Text.Encoding.UTF8.GetBytes(topic), payload, MqttQoS.AtMostOnce, false, false, 0, null);
        }

        _batch = writer.WrittenSpan.ToArray();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public async Task PublishQoS0()
    {
        long target = Received() + Batch;
        await _publisher.SendAsync(_batch).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var spin = new SpinWait();
        while (Received() < target)
        {
            if (clock.ElapsedMilliseconds > 10_000)
            {
                throw new InvalidOperationException($"Only {Received() - target + Batch} of {Batch} messages arrived.");
            }

            spin.SpinOnce();
        }
    }

    /// <summary>Each size once: setup, 50 batches, the rate. Returns 0.</summary>
    public static async Task<int> SmokeAsync()
    {
        foreach (int size in (int[])[1, 1_000, 100_000])
        {
            var b = new PublishPathBenchmarks { Subscriptions = size };
            var setup = Stopwatch.StartNew();
            b.Setup();
            Console.WriteLine($"{size,7} subscriptions: setup {setup.Elapsed.TotalSeconds:F1} s");
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < 50; i++)
            {
                await b.PublishQoS0().ConfigureAwait(false);
            }

            Console.WriteLine($"{size,7} subscriptions: {50 * Batch / clock.Elapsed.TotalSeconds:N0} messages/s");
            b.Cleanup();
        }

        return 0;
    }

    private long Received()
    {
        long n = 0;
        foreach (var s in _subscribers)
        {
            n += s.Received;
        }

        return n;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var s in _subscribers)
        {
            s.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _publisher.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _broker.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
