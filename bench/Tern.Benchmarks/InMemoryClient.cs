using System.Buffers;
using System.IO.Pipelines;
using Tern.Broker;
using Tern.Protocol;

namespace Tern.Benchmarks;

/// <summary>
/// A client of an in-process <see cref="MqttBroker"/> over a pair of <see cref="Pipe"/>s (no sockets).
/// After the handshake its reader only frames packets and counts PUBLISHes.
/// </summary>
internal sealed class InMemoryClient : IAsyncDisposable
{
    private readonly Pipe _toBroker = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _fromBroker = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Task _connection;
    private Task? _counting;
    private long _received;

    private InMemoryClient(MqttBroker broker, string id)
    {
        var transport = new DuplexPipe(_toBroker.Reader, _fromBroker.Writer);
        _connection = Task.Run(() => broker.HandleConnectionAsync(transport, new MqttConnectionInfo(id, null, null, "bench", null)));
    }

    public long Received => Volatile.Read(ref _received);

    public static async Task<InMemoryClient> ConnectAsync(MqttBroker broker, string id)
    {
        var client = new InMemoryClient(broker, id);
        await client.SendAsync(MqttEncoder.ToArray(new ConnectPacket { ClientId = id }, MqttProtocolVersion.V311)).ConfigureAwait(false);
        await client.ExpectAsync(MqttPacketType.ConnAck).ConfigureAwait(false);
        return client;
    }

    public async Task SubscribeAsync(IReadOnlyList<string> filters)
    {
        const int PerPacket = 100;
        for (var i = 0; i < filters.Count; i += PerPacket)
        {
            var subscriptions = new List<TopicSubscription>();
            for (var j = i; j < Math.Min(filters.Count, i + PerPacket); j++)
            {
                subscriptions.Add(new TopicSubscription(filters[j], new SubscriptionOptions(MqttQoS.AtMostOnce)));
            }

            var packet = new SubscribePacket { PacketId = 1, Subscriptions = subscriptions };
            await SendAsync(MqttEncoder.ToArray(packet, MqttProtocolVersion.V311)).ConfigureAwait(false);
            await ExpectAsync(MqttPacketType.SubAck).ConfigureAwait(false);
        }
    }

    /// <summary>From now on, count every PUBLISH the broker sends.</summary>
    public void StartCounting() => _counting = Task.Run(CountAsync);

    public async ValueTask SendAsync(ReadOnlyMemory<byte> bytes)
    {
        await _toBroker.Writer.WriteAsync(bytes).ConfigureAwait(false);
    }

    private async Task ExpectAsync(MqttPacketType type)
    {
        while (true)
        {
            var result = await _fromBroker.Reader.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            if (MqttDecoder.TryReadFrame(ref buffer, int.MaxValue, out var frame))
            {
                _fromBroker.Reader.AdvanceTo(buffer.Start);
                if (frame.Type != type)
                {
                    throw new InvalidOperationException($"Expected {type}, got {frame.Type}.");
                }

                return;
            }

            _fromBroker.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new InvalidOperationException("The broker closed the connection.");
            }
        }
    }

    private async Task CountAsync()
    {
        while (true)
        {
            var result = await _fromBroker.Reader.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            long n = 0;
            while (MqttDecoder.TryReadFrame(ref buffer, int.MaxValue, out var frame))
            {
                n += frame.Type == MqttPacketType.Publish ? 1 : 0;
            }

            Volatile.Write(ref _received, _received + n);
            _fromBroker.Reader.AdvanceTo(buffer.Start, result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _toBroker.Writer.CompleteAsync().ConfigureAwait(false);
        await _connection.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _fromBroker.Reader.CancelPendingRead();
        if (_counting is not null)
        {
            await _counting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
