using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>
/// <c>pubsub --churn R</c>: extra connections that subscribe and unsubscribe R times a second in all
/// while the run publishes. Each holds one filter at a time: SUBSCRIBE f, UNSUBSCRIBE f, then the
/// next filter. Operation k of the run is due at k / R from the start (client k mod N sends it), so
/// the schedule does not depend on how fast the broker answers; a client may have up to
/// <see cref="ChurnClient.MaxUnanswered"/> requests unanswered and then waits, so the load stays
/// bounded. Filters take turns: one that matches a published topic (its first level replaced by
/// <c>+</c>), and one that does not (the topic with <c>/+</c> appended). Their deliveries are
/// acknowledged and counted apart; they are not part of the run's expected or received messages.
/// </summary>
internal sealed class ChurnRunner
{
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(10);
    private readonly BenchSettings _settings;
    private readonly string[] _matching;
    private readonly string[] _notMatching;
    private readonly List<ChurnClient> _clients = [];

    /// <param name="topics">Published topics the filters are made from (a sample is enough).</param>
    public ChurnRunner(BenchSettings settings, IReadOnlyList<string> topics)
    {
        _settings = settings;
        _matching = new string[topics.Count];
        _notMatching = new string[topics.Count];
        for (var i = 0; i < topics.Count; i++)
        {
            int slash = topics[i].IndexOf('/', StringComparison.Ordinal);
            _matching[i] = slash < 0 ? "+" : "+" + topics[i][slash..];
            _notMatching[i] = topics[i] + "/+";
        }
    }

    /// <summary>SUBSCRIBE and UNSUBSCRIBE acknowledged (each counts one).</summary>
    public long Operations => Sum(c => c.Operations);

    /// <summary>Requests refused, or not answered within 10 s (or before the connection was lost).</summary>
    public long Failures => Sum(c => c.Failures);

    /// <summary>Messages the churn connections received while subscribed.</summary>
    public long Deliveries => Sum(c => c.Deliveries);

    /// <summary>Request to SUBACK/UNSUBACK times.</summary>
    public LatencyHistogram Latency { get; } = new();

    public string? FirstError => _clients.Select(c => c.Error).FirstOrDefault(e => e is not null);

    public int ClientsWithErrors => _clients.Count(c => c.Error is not null);

    public int Connected => _clients.Count;

    public async Task ConnectAsync(BenchConnector connector, CancellationToken ct)
    {
        Socket?[] sockets = await connector.ConnectAsync(_settings.ChurnClients, i => $"{_settings.ClientPrefix}-ch{i}", ct).ConfigureAwait(false);
        if (connector.Failed > 0)
        {
            foreach (var socket in sockets)
            {
                socket?.Dispose();
            }

            throw new BenchException($"{connector.Failed} churn connection(s) failed: {connector.FirstError}");
        }

        foreach (var socket in sockets)
        {
            var client = new ChurnClient(socket!, Latency);
            client.StartReceiving();
            _clients.Add(client);
        }
    }

    /// <summary>Churns until <paramref name="stop"/>, then waits (at most 10 s) for the answers still due.</summary>
    public Task RunAsync(CancellationToken stop)
    {
        long start = Stopwatch.GetTimestamp();
        double ticksPerOperation = Stopwatch.Frequency / _settings.Churn;
        var loops = new Task[_clients.Count];
        for (var c = 0; c < loops.Length; c++)
        {
            int index = c;
            loops[c] = Task.Run(() => ChurnAsync(index, start, ticksPerOperation, stop), CancellationToken.None);
        }

        return Task.WhenAll(loops);
    }

    private async Task ChurnAsync(int index, long start, double ticksPerOperation, CancellationToken stop)
    {
        var client = _clients[index];
        int count = _clients.Count;
        string filter = "";
        for (long j = 0; !client.Failed; j++)
        {
            long due = start + (long)(((j * count) + index) * ticksPerOperation);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait >= TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (stop.IsCancellationRequested)
            {
                break;
            }

            bool subscribe = j % 2 == 0;
            if (subscribe)
            {
                // Pair n of the run alternates between a filter that matches and one that does not.
                long pair = ((j / 2) * count) + index;
                string[] filters = pair % 2 == 0 ? _matching : _notMatching;
                filter = filters[(int)((pair / 2) % filters.Length)];
            }

            await client.RequestAsync(subscribe ? Request.Subscribe : Request.Unsubscribe, filter, _settings.SubscribeQoS).ConfigureAwait(false);
        }

        await client.WaitForAnswersAsync().ConfigureAwait(false);
    }

    /// <summary>Disconnects every churn connection and waits for their receive loops, so the counts are final.</summary>
    public async Task CloseAsync()
    {
        var closing = new Task[_clients.Count];
        for (var i = 0; i < closing.Length; i++)
        {
            closing[i] = _clients[i].CloseAsync();
        }

        await Task.WhenAll(closing).ConfigureAwait(false);
    }

    private long Sum(Func<ChurnClient, long> value)
    {
        long n = 0;
        foreach (var c in _clients)
        {
            n += value(c);
        }

        return n;
    }

    private enum Request
    {
        Subscribe,
        Unsubscribe,
    }

    /// <summary>One churn connection: a receive loop (answers, deliveries) and up to <see cref="MaxUnanswered"/> requests on their way.</summary>
    private sealed class ChurnClient
    {
        /// <summary>Requests one client may have unanswered; then it waits for an answer.</summary>
        public const int MaxUnanswered = 16;

        private readonly Socket _socket;
        private readonly LatencyHistogram _latency;
        private readonly SemaphoreSlim _sendLock = new(1);
        private readonly SemaphoreSlim _room = new(MaxUnanswered);
        private readonly Lock _pendingLock = new();
        private readonly Dictionary<ushort, long> _pending = [];
        private ushort _packetId;
        private long _operations;
        private long _failures;
        private long _deliveries;
        private volatile bool _closing;
        private volatile bool _failed;
        private Task _receiving = Task.CompletedTask;

        public ChurnClient(Socket socket, LatencyHistogram latency)
        {
            _socket = socket;
            _latency = latency;
        }

        public long Operations => Volatile.Read(ref _operations);

        public long Failures => Volatile.Read(ref _failures);

        public long Deliveries => Volatile.Read(ref _deliveries);

        public bool Failed => _failed;

        public string? Error { get; private set; }

        public void StartReceiving() => _receiving = Task.Run(ReceiveLoopAsync, CancellationToken.None);

        /// <summary>Sends a request once fewer than <see cref="MaxUnanswered"/> are unanswered (waiting at most 10 s for that).</summary>
        public async Task RequestAsync(Request request, string filter, MqttQoS qos)
        {
            if (!await _room.WaitAsync(AckTimeout).ConfigureAwait(false))
            {
                Fail($"{MaxUnanswered} requests unanswered for {AckTimeout.TotalSeconds:F0} s.", fatal: true);
                return;
            }

            _packetId = _packetId == ushort.MaxValue ? (ushort)1 : (ushort)(_packetId + 1);
            byte[] packet = request == Request.Subscribe ? BenchWire.Subscribe(filter, qos, _packetId) : BenchWire.Unsubscribe(filter, _packetId);
            lock (_pendingLock)
            {
                _pending[_packetId] = Stopwatch.GetTimestamp();
            }

            try
            {
                await SendAsync(packet).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                lock (_pendingLock)
                {
                    _pending.Remove(_packetId);
                }

                Fail(ex.Message, fatal: true);
            }
        }

        /// <summary>Waits until every request is answered (at most 10 s); the unanswered ones count as failures.</summary>
        public async Task WaitForAnswersAsync()
        {
            // Holding every slot means nothing is on its way.
            long until = Stopwatch.GetTimestamp() + (long)(AckTimeout.TotalSeconds * Stopwatch.Frequency);
            for (var i = 0; i < MaxUnanswered && !_failed; i++)
            {
                var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), until);
                if (left <= TimeSpan.Zero || !await _room.WaitAsync(left).ConfigureAwait(false))
                {
                    break;
                }
            }

            lock (_pendingLock)
            {
                if (_pending.Count > 0)
                {
                    Interlocked.Add(ref _failures, _pending.Count);
                    Error ??= $"{_pending.Count} request(s) not answered within {AckTimeout.TotalSeconds:F0} s.";
                    _pending.Clear();
                }
            }
        }

        private void OnAnswer(ushort packetId, byte code)
        {
            long sent;
            lock (_pendingLock)
            {
                if (!_pending.Remove(packetId, out sent))
                {
                    return;
                }
            }

            if (code >= 0x80)
            {
                Interlocked.Increment(ref _failures);
                Error ??= "A subscription was refused.";
            }
            else
            {
                _latency.RecordTicks(Stopwatch.GetTimestamp() - sent);
                Interlocked.Increment(ref _operations);
            }

            _room.Release();
        }

        private void Fail(string message, bool fatal)
        {
            Interlocked.Increment(ref _failures);
            Error ??= message;
            if (fatal)
            {
                _failed = true;
            }
        }

        private async Task SendAsync(ReadOnlyMemory<byte> bytes)
        {
            // Requests and the acknowledgements of deliveries share the socket.
            await _sendLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await _socket.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
            }
            finally
            {
                _sendLock.Release();
            }
        }

        private async Task ReceiveLoopAsync()
        {
            byte[] buffer = new byte[64 * 1024];
            byte[] acks = new byte[4096];
            var filled = 0;
            try
            {
                while (true)
                {
                    if (filled == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }

                    int n = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new BenchException("The broker closed the connection.");
                    }

                    filled += n;
                    var sequence = new ReadOnlySequence<byte>(buffer, 0, filled);
                    var ackBytes = 0;
                    while (MqttDecoder.TryReadFrame(ref sequence, int.MaxValue, out MqttFrame frame))
                    {
                        OnFrame(frame, ref acks, ref ackBytes);
                    }

                    if (ackBytes > 0)
                    {
                        await SendAsync(acks.AsMemory(0, ackBytes)).ConfigureAwait(false);
                    }

                    int consumed = filled - (int)sequence.Length;
                    Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                    filled -= consumed;
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or BenchException or MqttProtocolException)
            {
                if (!_closing)
                {
                    Error ??= ex.Message;
                    _failed = true;
                }
            }
        }

        private void OnFrame(MqttFrame frame, ref byte[] acks, ref int ackBytes)
        {
            ReadOnlySpan<byte> body = frame.Body.FirstSpan;
            byte ack = 0;
            ushort id = 0;
            switch (frame.Type)
            {
                case MqttPacketType.SubAck:
                case MqttPacketType.UnsubAck:
                    // SUBACK: the granted QoS or 0x80; UNSUBACK (3.1.1) has no code.
                    OnAnswer(BinaryPrimitives.ReadUInt16BigEndian(body), frame.Type == MqttPacketType.SubAck && body.Length > 2 ? body[2] : (byte)0);
                    return;
                case MqttPacketType.Publish:
                    Interlocked.Increment(ref _deliveries);
                    int qos = (frame.Flags >> 1) & 3;
                    if (qos == 0)
                    {
                        return;
                    }

                    id = BinaryPrimitives.ReadUInt16BigEndian(body[(2 + BinaryPrimitives.ReadUInt16BigEndian(body))..]);
                    ack = qos == 1 ? BenchWire.PubAck : BenchWire.PubRec;
                    break;
                case MqttPacketType.PubRel:
                    id = BinaryPrimitives.ReadUInt16BigEndian(body);
                    ack = BenchWire.PubComp;
                    break;
                default:
                    return;
            }

            if (ackBytes + 4 > acks.Length)
            {
                Array.Resize(ref acks, acks.Length * 2);
            }

            BenchWire.WriteAck(acks.AsSpan(ackBytes), ack, id);
            ackBytes += 4;
        }

        public async Task CloseAsync()
        {
            _closing = true;
            try
            {
                if (!Failed)
                {
                    await SendAsync(BenchWire.Disconnect()).WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                    _socket.Shutdown(SocketShutdown.Send);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or TimeoutException)
            {
            }

            // The broker closes after DISCONNECT, which ends the receive loop; one that does not is closed here.
            await _receiving.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _socket.Dispose();
            await _receiving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _sendLock.Dispose();
            _room.Dispose();
        }
    }
}
