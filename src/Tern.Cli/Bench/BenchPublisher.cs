using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>How one publisher sends: a count limit (0: until stopped) and for QoS 1/2 the number of
/// unacknowledged messages it allows. A fixed rate is the <see cref="Pacer"/>'s.</summary>
internal readonly record struct PublishPlan(long Limit, int Inflight);

/// <summary>
/// One publishing connection. It copies pre-encoded PUBLISH packets into a 64 KiB batch, patches the
/// packet id, stream, sequence and timestamp in place and sends the batch in one write. For QoS 1/2 a
/// second loop reads the acknowledgements and keeps the in-flight window.
/// </summary>
internal sealed class BenchPublisher : IDisposable
{
    private const int BatchBytes = 64 * 1024;
    private readonly Socket _socket;
    private readonly uint _index;
    private readonly PublishTemplate[] _templates;
    private readonly PublishPlan _plan;
    private readonly FlowControl? _flow;
    private readonly int[]? _fanout;
    private readonly int _maxFanout = 1;
    private readonly long[] _sentPerTemplate;
    private readonly uint[] _sequences;
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Lock _controlLock = new();
    private byte[] _control = new byte[1024];
    private int _controlBytes;
    private int _waiting;
    private int _inflight;
    private long _sent;
    private long _acked;
    private volatile bool _closing;
    private volatile bool _failed;
    private byte[]? _paced;
    private ushort _packetId;
    private int _next;
    private Task _acks = Task.CompletedTask;

    // With trackAcks: the template and sequence number each packet id was last sent with, and the
    // sequence numbers acknowledged per template.
    private readonly int[]? _idTemplate;
    private readonly uint[]? _idSequence;
    private readonly SequenceSet[]? _ackedSequences;

    /// <param name="flow">Optional end-to-end flow control; then <paramref name="fanout"/> gives each template's matching subscribers.</param>
    /// <param name="trackAcks">QoS 1/2: keep which messages the broker acknowledged (see <see cref="AckedSequences"/>).</param>
    public BenchPublisher(Socket socket, uint index, PublishTemplate[] templates, PublishPlan plan, FlowControl? flow = null, int[]? fanout = null, bool trackAcks = false)
    {
        if (trackAcks && templates[0].QoS != MqttQoS.AtMostOnce)
        {
            _idTemplate = new int[ushort.MaxValue + 1];
            _idSequence = new uint[ushort.MaxValue + 1];
            _ackedSequences = new SequenceSet[templates.Length];
            for (var i = 0; i < templates.Length; i++)
            {
                _ackedSequences[i] = new SequenceSet();
            }
        }

        _flow = flow;
        _fanout = fanout;
        foreach (int n in fanout ?? [])
        {
            _maxFanout = Math.Max(_maxFanout, n);
        }

        _socket = socket;
        _index = index;
        _templates = templates;
        _plan = plan;
        _sentPerTemplate = new long[templates.Length];
        _sequences = new uint[templates.Length];
    }

    public long Sent => Volatile.Read(ref _sent);

    public long Acked => Volatile.Read(ref _acked);

    /// <summary>Messages sent per template (topic), for the expected delivery count.</summary>
    public IReadOnlyList<long> SentPerTemplate => _sentPerTemplate;

    public string? Error { get; private set; }

    /// <summary>With trackAcks: the sequence numbers of template <paramref name="template"/> the broker acknowledged (PUBACK, PUBCOMP).</summary>
    public SequenceSet? AckedSequences(int template) => _ackedSequences?[template];

    private bool Acknowledged => _templates[0].QoS != MqttQoS.AtMostOnce;

    /// <summary>Reached its message limit, or its connection failed.</summary>
    public bool Finished => _failed || (_plan.Limit > 0 && Volatile.Read(ref _sent) >= _plan.Limit);

    /// <summary>Starts reading the acknowledgements (QoS 1/2); call once before sending.</summary>
    public void Start()
    {
        if (Acknowledged)
        {
            _acks = Task.Run(AckLoopAsync, CancellationToken.None);
        }
    }

    /// <summary>Publishes until <paramref name="stop"/> or the limit (unless a <see cref="Pacer"/> sends for it, see <see cref="SendNow"/>).</summary>
    public async Task SendAsync(CancellationToken stop)
    {
        try
        {
            await SendLoopAsync(stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or BenchException)
        {
            Error ??= ex.Message;
            _failed = true;
        }
    }

    /// <summary>
    /// After the last message: waits for the outstanding acknowledgements (sending the PUBRELs they
    /// need) until <paramref name="deadline"/>, then disconnects.
    /// </summary>
    public async Task FinishAsync(CancellationToken deadline)
    {
        try
        {
            if (!_failed)
            {
                await DrainAsync(deadline).ConfigureAwait(false);
                _closing = true;
                await _socket.SendAsync(BenchWire.Disconnect(), SocketFlags.None, CancellationToken.None).ConfigureAwait(false);
                _socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or BenchException)
        {
            Error ??= ex.Message;
        }

        _closing = true;

        // The broker closes after DISCONNECT, which ends the ack loop; one that does not is closed by Dispose.
        await _acks.WaitAsync(deadline).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task SendLoopAsync(CancellationToken stop)
    {
        int longest = 0;
        foreach (var t in _templates)
        {
            longest = Math.Max(longest, t.Length);
        }

        byte[] batch = new byte[Math.Max(BatchBytes, longest) + 1024];
        int perBatch = Math.Max(1, BatchBytes / longest);
        while (!stop.IsCancellationRequested && (_plan.Limit == 0 || _sent < _plan.Limit))
        {
            long allowed = perBatch;

            if (_plan.Limit > 0)
            {
                allowed = Math.Min(allowed, _plan.Limit - _sent);
            }

            // PUBRELs go out whatever the budget: a broker that forwards a QoS 2 message on PUBREL
            // (Mosquitto does) gives the budget back only after them.
            int length = TakeControl(batch);
            long reserved = 0;
            if (_flow is not null)
            {
                allowed = _flow.TryReserve((int)_index, allowed, _maxFanout);
                if (allowed == 0 && length == 0)
                {
                    // Sleep until the subscribers have given back half of this publisher's budget (or a
                    // PUBREC asks for a PUBREL): a spinning wait would take the load generator's core.
                    await _flow.WaitForRoomAsync((int)_index, stop).ConfigureAwait(false);
                    continue;
                }

                reserved = allowed * _maxFanout;
            }

            if (Acknowledged)
            {
                allowed = Math.Min(allowed, _plan.Inflight - Volatile.Read(ref _inflight));
                if (allowed <= 0 && length == 0)
                {
                    _flow?.Release((int)_index, reserved);
                    await WaitForAcksAsync(stop).ConfigureAwait(false);
                    continue;
                }

                allowed = Math.Max(0, allowed);
                Interlocked.Add(ref _inflight, (int)allowed);
            }

            length = Stamp(batch, length, allowed, reserved);
            await _socket.SendAsync(batch.AsMemory(0, length), SocketFlags.None, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// For the <see cref="Pacer"/>: sends up to <paramref name="count"/> messages now in one blocking write,
    /// with any PUBRELs owed. Returns how many were sent: fewer when the in-flight window, the flow control
    /// or the limit allows fewer, 0 after a failure.
    /// </summary>
    public int SendNow(int count)
    {
        if (Finished)
        {
            return 0;
        }

        int longest = 0;
        foreach (var t in _templates)
        {
            longest = Math.Max(longest, t.Length);
        }

        if (_paced is null)
        {
            _paced = new byte[Math.Max(BatchBytes, longest) + 1024];

            // A broker that stops reading must not hold the pacer (and every publisher) forever.
            _socket.SendTimeout = 5_000;
        }

        long allowed = Math.Min(count, Math.Max(1, BatchBytes / longest));
        if (_plan.Limit > 0)
        {
            allowed = Math.Min(allowed, _plan.Limit - _sent);
        }

        if (Acknowledged)
        {
            allowed = Math.Min(allowed, _plan.Inflight - Volatile.Read(ref _inflight));
        }

        long reserved = 0;
        if (_flow is not null && allowed > 0)
        {
            allowed = _flow.TryReserve((int)_index, allowed, _maxFanout);
            reserved = allowed * _maxFanout;
        }

        allowed = Math.Max(0, allowed);
        int length = TakeControl(_paced);
        if (allowed == 0 && length == 0)
        {
            return 0;
        }

        if (Acknowledged)
        {
            Interlocked.Add(ref _inflight, (int)allowed);
        }

        length = Stamp(_paced, length, allowed, reserved);
        try
        {
            _socket.Send(_paced.AsSpan(0, length), SocketFlags.None);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            Error ??= ex.Message;
            _failed = true;
            return 0;
        }

        return (int)allowed;
    }

    /// <summary>
    /// Appends <paramref name="count"/> messages to <paramref name="batch"/> at <paramref name="length"/>,
    /// cycling through the templates, and gives back the part of <paramref name="reserved"/> they do not
    /// use. Returns the new length.
    /// </summary>
    private int Stamp(byte[] batch, int length, long count, long reserved)
    {
        long deliveries = 0;
        long now = Stopwatch.GetTimestamp();
        for (var k = 0; k < count; k++)
        {
            deliveries += _fanout is null ? 0 : _fanout[_next];
            var template = _templates[_next];
            _packetId = _packetId == ushort.MaxValue ? (ushort)1 : (ushort)(_packetId + 1);
            uint stream = (_index * (uint)_templates.Length) + (uint)_next;
            uint sequence = _sequences[_next]++;
            if (_idTemplate is not null)
            {
                _idTemplate[_packetId] = _next;
                _idSequence![_packetId] = sequence;
            }

            template.CopyTo(batch.AsSpan(length), _packetId, stream, sequence, now);
            length += template.Length;
            _sentPerTemplate[_next]++;
            _next = _next + 1 == _templates.Length ? 0 : _next + 1;
        }

        Volatile.Write(ref _sent, _sent + count);
        _flow?.Release((int)_index, reserved - deliveries);
        return length;
    }

    /// <summary>Keeps sending PUBRELs until every message is acknowledged or <paramref name="deadline"/>.</summary>
    private async Task DrainAsync(CancellationToken deadline)
    {
        if (!Acknowledged)
        {
            return;
        }

        byte[] batch = new byte[4096];
        while (Volatile.Read(ref _inflight) > 0 && !deadline.IsCancellationRequested)
        {
            int length = TakeControl(batch);
            if (length > 0)
            {
                await _socket.SendAsync(batch.AsMemory(0, length), SocketFlags.None, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            await WaitForAnyAckAsync(deadline).ConfigureAwait(false);
        }
    }

    private async Task WaitForAnyAckAsync(CancellationToken ct)
    {
        long acked = Acked;
        Volatile.Write(ref _waiting, 1);
        if (Acked != acked || HasControl() || Volatile.Read(ref _inflight) == 0)
        {
            Volatile.Write(ref _waiting, 0);
            return;
        }

        try
        {
            await _signal.WaitAsync(TimeSpan.FromMilliseconds(100), ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task WaitForAcksAsync(CancellationToken ct)
    {
        Volatile.Write(ref _waiting, 1);
        if (Volatile.Read(ref _inflight) < _plan.Inflight || HasControl())
        {
            Volatile.Write(ref _waiting, 0);
            return;
        }

        await _signal.WaitAsync(ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private bool HasControl()
    {
        lock (_controlLock)
        {
            return _controlBytes > 0;
        }
    }

    /// <summary>Moves the pending PUBRELs into <paramref name="batch"/>; returns their length.</summary>
    private int TakeControl(byte[] batch)
    {
        lock (_controlLock)
        {
            int n = Math.Min(_controlBytes, batch.Length / 2);
            n -= n % 4;
            _control.AsSpan(0, n).CopyTo(batch);
            _control.AsSpan(n, _controlBytes - n).CopyTo(_control);
            _controlBytes -= n;
            return n;
        }
    }

    private async Task AckLoopAsync()
    {
        byte[] buffer = new byte[64 * 1024];
        var filled = 0;
        try
        {
            while (true)
            {
                int n = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                {
                    if (!_closing)
                    {
                        Error ??= "The broker closed the connection.";
                    }

                    return;
                }

                filled += n;
                var sequence = new ReadOnlySequence<byte>(buffer, 0, filled);
                while (MqttDecoder.TryReadFrame(ref sequence, buffer.Length, out MqttFrame frame))
                {
                    OnAck(frame.Type, BinaryPrimitives.ReadUInt16BigEndian(frame.Body.FirstSpan));
                }

                int consumed = filled - (int)sequence.Length;
                Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                filled -= consumed;
                if (Interlocked.Exchange(ref _waiting, 0) == 1)
                {
                    _signal.Release();
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or MqttProtocolException)
        {
            if (!_closing)
            {
                Error ??= ex.Message;
            }
        }
    }

    private void OnAck(MqttPacketType type, ushort packetId)
    {
        switch (type)
        {
            case MqttPacketType.PubAck:
            case MqttPacketType.PubComp:
                // The window (at most 65,535, see --inflight) keeps an id from being reused before its acknowledgement.
                _ackedSequences?[_idTemplate![packetId]].Add(_idSequence![packetId]);
                Interlocked.Decrement(ref _inflight);
                Volatile.Write(ref _acked, _acked + 1);
                break;
            case MqttPacketType.PubRec:
                lock (_controlLock)
                {
                    if (_controlBytes + 4 > _control.Length)
                    {
                        Array.Resize(ref _control, _control.Length * 2);
                    }

                    BenchWire.WriteAck(_control.AsSpan(_controlBytes), BenchWire.PubRel, packetId);
                    _controlBytes += 4;
                }

                _flow?.Wake((int)_index);

                break;
            default:
                break;
        }
    }

    /// <summary>Closes the connection and waits for the acknowledgement loop to end, so its counts are final.</summary>
    public async Task CloseAsync()
    {
        _closing = true;
        _socket.Dispose();
        await _acks.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose()
    {
        _socket.Dispose();
        _signal.Dispose();
    }
}
