using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// The sending half of a <see cref="SocketConnection"/>: a <see cref="PipeWriter"/> over one rented
/// buffer. A flush sends without waiting while the socket takes the bytes (the common case) and
/// returns the buffer; only a socket that is full makes the flush wait: for the write poller to say
/// it is writable again (a polled socket), else for an asynchronous send created on first need.
/// Nothing is held between flushes.
/// </summary>
/// <remarks>
/// The broker's writer is the only caller of the writing methods and awaits every flush; the lock (the
/// writer itself) only orders a send's completion against <see cref="CancelPendingFlush"/> and <see cref="Complete"/>.
/// </remarks>
internal sealed class SocketOutput : PipeWriter, IValueTaskSource<FlushResult>, IPolled
{
    private const int MinimumBufferSize = 4096;

    private readonly Socket? _socket;
    private readonly SafeHandle? _handle;       // a polled socket: sends go through LinuxSocket
    private readonly SocketPoller? _poller;     // and a full one waits for this poller
    // The waiting flush's completion.
    private CompletionCore _flush;
    private SendArgs? _send;
    private bool _added;            // in the write poller's epoll set
    private bool _closing;          // the socket is being closed: nothing waits for it any more

    private byte[]? _buffer;
    private int _written;
    private int _sent;
    private int _lastFlushSize = MinimumBufferSize;

    private bool _sending;          // an asynchronous send, or a wait for the poller, is outstanding with the buffer
    private bool _flushWaiting;     // a FlushAsync is pending on _flush
    private bool _cancelRequested;
    private bool _broken;           // a send failed: the peer is gone
    private bool _completed;

    /// <summary>Over a socket of .NET's engine (non-blocking): asynchronous sends when it is full.</summary>
    public SocketOutput(Socket socket) => _socket = socket;

    /// <summary>Over a polled descriptor: <paramref name="poller"/> says when a full socket is writable again.</summary>
    public SocketOutput(SafeHandle handle, SocketPoller poller)
    {
        _handle = handle;
        _poller = poller;
    }

    /// <summary>The write poller's slot while one is taken (0 when none): a readiness with another token is stale.</summary>
    public ulong PollToken { get; private set; }

    public override bool CanGetUnflushedBytes => true;

    // This object: nothing outside the class locks on a writer, and a lock object would cost every connection 40 bytes.
    private object Gate => this;

    public override long UnflushedBytes => _written - _sent;

    public override void Advance(int bytes)
    {
        if ((uint)bytes > (uint)(_buffer?.Length ?? 0) - (uint)_written)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), "Advanced past the memory that was asked for.");
        }

        _written += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => Reserve(sizeHint).AsMemory(_written);

    public override Span<byte> GetSpan(int sizeHint = 0) => Reserve(sizeHint).AsSpan(_written);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        lock (Gate)
        {
            if (_cancelRequested)
            {
                _cancelRequested = false;
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false));
            }

            if (_broken)
            {
                Discard();
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
            }

            if (_written == _sent)
            {
                Discard();
                return default;
            }

            _lastFlushSize = Math.Max(_written, MinimumBufferSize);
            if (SendNow())
            {
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: _broken));
            }

            _flush.Reset();
            _flushWaiting = true;
            return new ValueTask<FlushResult>(this, _flush.Version);
        }
    }

    public override void CancelPendingFlush()
    {
        bool complete;
        lock (Gate)
        {
            complete = _flushWaiting;
            _flushWaiting = false;
            _cancelRequested = !complete;
        }

        if (complete)
        {
            FlushCompleted(new FlushResult(isCanceled: true, isCompleted: false));
        }
    }

    public override void Complete(Exception? exception = null)
    {
        lock (Gate)
        {
            _completed = true;
            if (!_sending)
            {
                Discard();
                _send?.Dispose();
            }
        }
    }

    /// <summary>
    /// The socket is closing: a flush that waits for the poller ends now (a closed descriptor leaves
    /// epoll without an event), as broken. An asynchronous send ends by itself, aborted.
    /// </summary>
    internal void StopSending()
    {
        bool complete;
        lock (Gate)
        {
            _closing = true;
            if (PollToken != 0)
            {
                _poller!.Unregister(PollToken);
                PollToken = 0;
            }

            if (_handle is null || !_sending)
            {
                return;
            }

            _sending = false;
            _broken = true;
            Discard();
            complete = _flushWaiting;
            _flushWaiting = false;
        }

        if (complete)
        {
            // Not inline: the caller may be the broker itself (an abort from its timer or reader).
            ThreadPool.UnsafeQueueUserWorkItem(static output => output.FlushCompleted(new FlushResult(isCanceled: false, isCompleted: true)), this, preferLocal: false);
        }
    }

    /// <summary>From the write poller: the full socket takes data again (or failed).</summary>
    public void OnReady() => OnSendCompleted();

    void IThreadPoolWorkItem.Execute() => OnReady();

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token)
    {
        _flush.ThrowIfNotSucceeded(token);
        return new FlushResult(_flush.IsCanceled, _flush.IsCompleted);
    }

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _flush.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _flush.OnCompleted(continuation, state, token, flags);

    /// <summary>Outside the lock: the waiting flush ends with <paramref name="result"/>; its continuation runs here.</summary>
    private void FlushCompleted(FlushResult result) => _flush.Complete(result.IsCanceled, result.IsCompleted);

    private byte[] Reserve(int sizeHint)
    {
        if (_sending || _completed)
        {
            throw new InvalidOperationException(_completed ? "Writing is not allowed after the writer was completed." : "A flush is still sending.");
        }

        var needed = Math.Max(sizeHint, 1);
        if (_buffer is null)
        {
            // As large as the last flush: a writer that batches does not grow its buffer every time.
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _lastFlushSize));
        }
        else if (_buffer.Length - _written < needed)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_written + needed, _buffer.Length * 2));
            Buffer.BlockCopy(_buffer, 0, larger, 0, _written);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        return _buffer;
    }

    /// <summary>Under the lock: sends what the socket takes now; true when all is sent (or the socket failed).</summary>
    private bool SendNow()
    {
        while (_sent < _written)
        {
            int sent;
            SocketError error;
            try
            {
                var bytes = _buffer.AsSpan(_sent, _written - _sent);
                if (_handle is not null)
                {
                    error = LinuxSocket.Send(_handle, bytes, out sent);
                }
                else
                {
                    sent = _socket!.Send(bytes, SocketFlags.None, out error);
                }
            }
            catch (ObjectDisposedException)
            {
                (sent, error) = (0, SocketError.OperationAborted);
            }

            if (error == SocketError.WouldBlock)
            {
                return StartSend();
            }

            if (error != SocketError.Success)
            {
                _broken = true;
                Discard();
                return true;
            }

            _sent += sent;
        }

        Discard();
        return true;
    }

    /// <summary>Under the lock: the socket is full; send the rest asynchronously. True if that completed at once.</summary>
    private bool StartSend()
    {
        if (_handle is not null)
        {
            return WaitWritable();
        }

        _send ??= new SendArgs(this);
        while (true)
        {
            _send.SetBuffer(_buffer, _sent, _written - _sent);
            _sending = true;
            bool pending;
            try
            {
                pending = _socket!.SendAsync(_send);
            }
            catch (ObjectDisposedException)
            {
                _sending = false;
                _broken = true;
                Discard();
                return true;
            }

            if (pending)
            {
                return false;
            }

            _sending = false;
            if (!Sent())
            {
                return true;
            }
        }
    }

    /// <summary>Under the lock: a polled socket is full; the poller will say when it is writable. True if it cannot.</summary>
    private bool WaitWritable()
    {
        if (!_closing)
        {
            if (PollToken == 0)
            {
                PollToken = _poller!.Register(this);
            }

            if (_poller!.Arm(_handle!, PollToken, first: !_added))
            {
                _added = true;
                _sending = true;
                return false;
            }
        }

        // Closing, or epoll refused it (out of watches): the bytes cannot go.
        _broken = true;
        Discard();
        return true;
    }

    /// <summary>Under the lock: accounts for a finished send; true if more is left to send.</summary>
    private bool Sent()
    {
        _send!.SetBuffer(null, 0, 0);
        if (_send.SocketError != SocketError.Success)
        {
            _broken = true;
            Discard();
            return false;
        }

        _sent += _send.BytesTransferred;
        if (_sent < _written && !_completed)
        {
            return true;
        }

        Discard();
        return false;
    }

    private void OnSendCompleted()
    {
        bool complete;
        FlushResult result;
        lock (Gate)
        {
            if (_handle is not null)
            {
                if (!_sending)
                {
                    // A readiness that raced with a close.
                    return;
                }

                _sending = false;
                if (_completed)
                {
                    Discard();
                }
                else if (!SendNow())
                {
                    return;
                }
            }
            else
            {
                _sending = false;
                if (Sent() && !StartSend())
                {
                    return;
                }
            }

            if (_completed)
            {
                _send?.Dispose();
            }

            result = new FlushResult(isCanceled: false, isCompleted: _broken);
            complete = _flushWaiting;
            _flushWaiting = false;
        }

        if (complete)
        {
            FlushCompleted(result);
        }
    }

    private void Discard()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }

        _written = _sent = 0;
    }

    private sealed class SendArgs : SocketAsyncEventArgs
    {
        private readonly SocketOutput _output;

        public SendArgs(SocketOutput output)
            : base(unsafeSuppressExecutionContextFlow: true)
            => _output = output;

        protected override void OnCompleted(SocketAsyncEventArgs e) => _output.OnSendCompleted();
    }
}
