using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Tern.Server.Transports.Tcp;

// The receiving half of a SocketConnection, which is its own PipeReader (one object less per
// connection). It holds no buffer while the connection is idle: it waits for the socket to be
// readable (one-shot epoll through SocketPoller on Linux, else a zero-byte receive), rents a buffer
// only when bytes have arrived, and returns it as soon as the reader has consumed them all.
internal sealed partial class SocketConnection
{
    private const int MinimumBufferSize = 4096;

    private readonly SocketPoller? _poller;
    private readonly SocketDescriptor? _handle;  // with a poller: the socket, for LinuxSocket's calls
    private ReceiveArgs? _receive;      // the zero-byte receive, where there is no poller (or it refused the socket)
    // The pending read's completion; its result is rebuilt from the buffer when the reader takes it.
    private CompletionCore _read;
    private CancellationTokenRegistration _registration;

    // Unread bytes are _buffer[_start.._end]; _buffer is null when there are none.
    private byte[]? _buffer;
    private int _start;
    private int _end;
    private int _nextSize = MinimumBufferSize;

    private bool _unexamined;        // bytes the reader has not examined yet
    private bool _readerHolds;       // a result was returned and AdvanceTo not called yet
    private bool _readerWaiting;     // a ReadAsync is pending on _read
    private bool _receivePending;    // armed in the poller, or the zero-byte receive is outstanding
    private bool _readable;          // the wait ended (poller or zero-byte receive): bytes (or FIN) are there
    private bool _receiveMore;       // the last receive filled the buffer: more is likely waiting
    private bool _cancelRequested;
    private bool _finished;          // FIN received
    private bool _readerCompleted;
    private bool _closing;           // the socket is being closed: a failed receive is the end, not an error
    private Exception? _error;


    /// <summary>This input's slot in the poller (0 without one): a readiness with another token is stale.</summary>
    public ulong PollToken { get; private set; }

    private object Gate => this;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        lock (Gate)
        {
            if (_readerCompleted)
            {
                throw new InvalidOperationException("Reading is not allowed after the reader was completed.");
            }

            if (_readerWaiting || _readerHolds)
            {
                throw new InvalidOperationException("A read is already in progress; call AdvanceTo first.");
            }

            try
            {
                if (TryProduce(out var result))
                {
                    _readerHolds = true;
                    return new ValueTask<ReadResult>(result);
                }
            }
            catch (IOException ex)
            {
                return ValueTask.FromException<ReadResult>(ex);
            }

            _read.Reset();
            _readerWaiting = true;
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(static (state, token) => ((SocketConnection)state!).OnReadCanceled(token), this);
            }

            return new ValueTask<ReadResult>(this, _read.Version);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (Gate)
        {
            if (_readerWaiting || _readerHolds || _readerCompleted || !(_unexamined || _cancelRequested))
            {
                result = default;
                return false;
            }

            _readerHolds = TryProduce(out result);
            return _readerHolds;
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        lock (Gate)
        {
            if (!_readerHolds)
            {
                throw new InvalidOperationException("AdvanceTo without a read.");
            }

            _readerHolds = false;
            if (_buffer is null || !ReferenceEquals(consumed.GetObject(), _buffer))
            {
                // The empty sequence of a read without bytes.
                return;
            }

            var consumedAt = consumed.GetInteger();
            var examinedAt = Math.Max(examined.GetInteger(), consumedAt);
            if (consumedAt < _start || consumedAt > _end || examinedAt > _end)
            {
                throw new ArgumentOutOfRangeException(nameof(consumed), "The position is outside the last read's buffer.");
            }

            _start = consumedAt;
            _unexamined = examinedAt < _end;
            if (_start == _end)
            {
                ReturnBuffer();
            }
        }
    }

    public override void CancelPendingRead()
    {
        bool complete;
        ReadResult result = default;
        lock (Gate)
        {
            complete = _readerWaiting;
            if (complete)
            {
                _readerWaiting = false;
                // Not Dispose: it would wait, under the lock, for a cancellation callback that waits for the lock.
                _registration.Unregister();
                result = new ReadResult(View(), isCanceled: true, isCompleted: false);
                _readerHolds = true;
            }
            else
            {
                _cancelRequested = true;
            }
        }

        if (complete)
        {
            ReadCompleted(result);
        }
    }

    public override void Complete(Exception? exception = null)
    {
        lock (Gate)
        {
            _readerCompleted = true;
            _readerHolds = false;
            ReturnBuffer();
        }
    }

    /// <summary>The socket is closing: a receive that fails from now on ends the stream quietly.</summary>
    private void StopReceiving()
    {
        bool armed;
        lock (Gate)
        {
            _closing = true;

            // Armed in the poller: closing the descriptor takes it out of the epoll set without an
            // event, so the wait is ended here (a zero-byte receive ends by itself, aborted).
            armed = _receivePending && PollToken != 0;
            if (PollToken != 0)
            {
                _poller!.Unregister(PollToken);
                PollToken = 0;
            }

            if (!_receivePending)
            {
                _receive?.Dispose();
            }
        }

        if (armed)
        {
            // Not inline: the caller may be the broker itself (an abort from its writer or timer),
            // and the read loop it would resume belongs on another stack, as an aborted receive's would.
            ThreadPool.UnsafeQueueUserWorkItem(static connection => connection.OnReceiveCompleted(SocketError.OperationAborted), this, preferLocal: false);
        }
    }

    /// <summary>From the poller: the socket has bytes, an end or an error to read.</summary>
    public void OnReady() => OnReceiveCompleted(SocketError.Success);

    void IThreadPoolWorkItem.Execute() => OnReady();

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token)
    {
        // No lock: the read completed with the reader holding the buffer, so nothing but the reader
        // changes it until AdvanceTo, and the completion's interlocked exchange published it.
        _read.ThrowIfNotSucceeded(token);
        return new ReadResult(View(), _read.IsCanceled, _read.IsCompleted);
    }

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _read.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _read.OnCompleted(continuation, state, token, flags);

    /// <summary>Outside the lock: the pending read completed with <paramref name="result"/>; its continuation runs here.</summary>
    private void ReadCompleted(in ReadResult result) => _read.Complete(result.IsCanceled, result.IsCompleted);

    /// <summary>Outside the lock: the pending read failed.</summary>
    private void ReadFailed(Exception failure) => _read.Fail(failure);

    /// <summary>
    /// Under the lock: a result for the reader if there is one to give, else a pending zero-byte
    /// receive (started here unless one already is) that will produce it.
    /// </summary>
    private bool TryProduce(out ReadResult result)
    {
        while (true)
        {
            if (_cancelRequested)
            {
                _cancelRequested = false;
                result = new ReadResult(View(), isCanceled: true, isCompleted: false);
                return true;
            }

            // Bytes first: what the client sent before a reset is still read.
            if (_unexamined)
            {
                result = new ReadResult(View(), isCanceled: false, isCompleted: false);
                return true;
            }

            if (_error is not null)
            {
                var error = _error;
                ReturnBuffer();
                throw error;
            }

            if (_finished)
            {
                result = new ReadResult(View(), isCanceled: false, isCompleted: true);
                return true;
            }

            if (_readable || _receiveMore)
            {
                _readable = false;
                if (ReceiveNow())
                {
                    continue;
                }
            }

            if (_receivePending)
            {
                result = default;
                return false;
            }

            if (_closing)
            {
                // Nothing arms a socket that is being closed: its descriptor may be gone.
                _finished = true;
                continue;
            }

            _receivePending = true;
            if (_handle is not null)
            {
                if (_poller!.Arm(_handle, PollToken))
                {
                    result = default;
                    return false;
                }

                // epoll refused to re-arm a socket it holds: out of kernel memory, or closed under us.
                _receivePending = false;
                Fail(SocketError.NoBufferSpaceAvailable);
                continue;
            }

            _receive ??= new ReceiveArgs(this);
            bool pending;
            try
            {
                pending = _socket!.ReceiveAsync(_receive);
            }
            catch (ObjectDisposedException)
            {
                _receivePending = false;
                _finished = true;
                continue;
            }

            if (pending)
            {
                result = default;
                return false;
            }

            _receivePending = false;
            OnZeroByteReceive(_receive.SocketError);
        }
    }

    /// <summary>Under the lock: receive what the socket holds without waiting; false if it held nothing.</summary>
    private bool ReceiveNow()
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(_nextSize);
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            MakeRoom();
        }

        int received;
        SocketError error;
        try
        {
            error = _handle is not null
                ? LinuxSocket.Receive(_handle, _buffer.AsSpan(_end), out received)
                : SocketReceive(_buffer.AsSpan(_end), out received);
        }
        catch (ObjectDisposedException)
        {
            (received, error) = (0, SocketError.OperationAborted);
        }

        switch (error)
        {
            case SocketError.Success when received > 0:
                _end += received;
                _unexamined = true;
                _receiveMore = _end == _buffer.Length;

                // A connection that fills its buffer gets a bigger one next time (up to 64 KiB).
                _nextSize = _receiveMore ? Math.Min(_nextSize * 2, 64 * 1024) : _nextSize;
                return true;
            case SocketError.Success:
                _finished = true;
                break;
            case SocketError.WouldBlock:
                _receiveMore = false;
                if (_start == _end)
                {
                    ReturnBuffer();
                }

                return false;
            default:
                Fail(error);
                break;
        }

        if (_start == _end)
        {
            ReturnBuffer();
        }

        return true;
    }

    private SocketError SocketReceive(Span<byte> buffer, out int received)
    {
        received = _socket!.Receive(buffer, SocketFlags.None, out var error);
        return error;
    }

    /// <summary>The buffer is full: move the unread bytes to its start, or into a buffer twice its size.</summary>
    private void MakeRoom()
    {
        var unread = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer!, _start, _buffer!, 0, unread);
        }
        else
        {
            var larger = ArrayPool<byte>.Shared.Rent(_buffer!.Length * 2);
            Buffer.BlockCopy(_buffer, 0, larger, 0, unread);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        _start = 0;
        _end = unread;
    }

    private void Fail(SocketError error)
    {
        if (_closing || error is SocketError.OperationAborted)
        {
            _finished = true;
        }
        else
        {
            _error = new IOException(SocketErrorText(error), new SocketException((int)error));
        }
    }

    private static string SocketErrorText(SocketError error) => error switch
    {
        SocketError.ConnectionReset => "Connection reset by peer",
        SocketError.TimedOut => "Connection timed out",
        _ => new SocketException((int)error).Message,
    };

    private void OnZeroByteReceive(SocketError error)
    {
        if (error == SocketError.Success)
        {
            _readable = true;
        }
        else
        {
            Fail(error);
        }
    }

    private void OnReceiveCompleted(SocketError error)
    {
        ReadResult result = default;
        Exception? failure = null;
        var complete = false;
        lock (Gate)
        {
            if (!_receivePending)
            {
                // A readiness that raced with a close and a reuse of the poller's slot.
                return;
            }

            _receivePending = false;
            OnZeroByteReceive(error);
            if (_closing)
            {
                _receive?.Dispose();
            }

            if (!_readerWaiting)
            {
                return;
            }

            try
            {
                complete = TryProduce(out result);
            }
            catch (Exception ex)
            {
                failure = ex;
                complete = true;
            }

            if (complete)
            {
                _readerWaiting = false;
                _registration.Unregister();
                _readerHolds = failure is null;
            }
        }

        if (!complete)
        {
            return;
        }

        if (failure is not null)
        {
            ReadFailed(failure);
        }
        else
        {
            ReadCompleted(result);
        }
    }

    private void OnReadCanceled(CancellationToken token)
    {
        lock (Gate)
        {
            if (!_readerWaiting)
            {
                return;
            }

            _readerWaiting = false;
        }

        ReadFailed(new OperationCanceledException(token));
    }

    private ReadOnlySequence<byte> View()
        => _buffer is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);

    private void ReturnBuffer()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
            _start = _end = 0;
        }
    }

    /// <summary>The zero-byte receive; its completion comes back to the input without a delegate per call.</summary>
    private sealed class ReceiveArgs : SocketAsyncEventArgs
    {
        private readonly SocketConnection _input;

        public ReceiveArgs(SocketConnection input)
            : base(unsafeSuppressExecutionContextFlow: true)
        {
            _input = input;
            SetBuffer(Memory<byte>.Empty);
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => _input.OnReceiveCompleted(e.SocketError);
    }
}
