using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// The completion of one pending read or flush for an <see cref="IValueTaskSource{TResult}"/>: a
/// continuation, its state, a failure, a version and the result's two flags (canceled, completed),
/// from which the owner rebuilds its <c>ReadResult</c> or <c>FlushResult</c>: 32 bytes, where a
/// <see cref="ManualResetValueTaskSourceCore{TResult}"/> with its result and captured contexts is 50
/// to 80. A mutable struct held in a field of its owner, like that one.
/// </summary>
internal struct CompletionCore
{
    // Marks a completion whose continuation has run (or runs as soon as it is set).
    private static readonly Action<object?> Done = static _ => { };

    private Action<object?>? _continuation;
    private object? _continuationState;
    private Exception? _failure;
    private short _version;
    private bool _canceled;
    private bool _completed;

    /// <summary>The token of the pending operation's value task.</summary>
    public readonly short Version => _version;

    /// <summary>The result's IsCanceled, once completed.</summary>
    public readonly bool IsCanceled => _canceled;

    /// <summary>The result's IsCompleted (the stream or the peer ended), once completed.</summary>
    public readonly bool IsCompleted => _completed;

    /// <summary>Starts a new operation (the previous one's result was taken).</summary>
    public void Reset()
    {
        _version++;
        _continuation = null;
        _continuationState = null;
        _failure = null;
    }

    /// <summary>Completes the operation with a result of these flags; its continuation runs on this thread.</summary>
    public void Complete(bool canceled, bool completed)
    {
        _canceled = canceled;
        _completed = completed;
        Signal();
    }

    /// <summary>Fails the operation; its continuation runs on this thread.</summary>
    public void Fail(Exception failure)
    {
        _failure = failure;
        Signal();
    }

    private void Signal()
    {
        var continuation = Interlocked.Exchange(ref _continuation, Done);
        continuation?.Invoke(_continuationState);
    }

    public readonly ValueTaskSourceStatus GetStatus(short token)
    {
        Check(token);
        return !ReferenceEquals(Volatile.Read(ref Unsafe.AsRef(in _continuation)), Done) ? ValueTaskSourceStatus.Pending
            : _failure is null ? ValueTaskSourceStatus.Succeeded
            : _failure is OperationCanceledException ? ValueTaskSourceStatus.Canceled
            : ValueTaskSourceStatus.Faulted;
    }

    /// <summary>For GetResult: throws if the operation is not complete or failed.</summary>
    public readonly void ThrowIfNotSucceeded(short token)
    {
        Check(token);
        if (!ReferenceEquals(Volatile.Read(ref Unsafe.AsRef(in _continuation)), Done))
        {
            throw new InvalidOperationException("The operation has not completed.");
        }

        if (_failure is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        Check(token);
        if (flags != ValueTaskSourceOnCompletedFlags.None)
        {
            (continuation, state) = CapturedContinuation.Capture(continuation, state, flags);
        }

        _continuationState = state;
        var previous = Interlocked.CompareExchange(ref _continuation, continuation, null);
        if (previous is null)
        {
            return;
        }

        if (!ReferenceEquals(previous, Done))
        {
            throw new InvalidOperationException("The operation already has a continuation.");
        }

        // Completed meanwhile: not inline, as the awaiter expects to return first.
        ThreadPool.UnsafeQueueUserWorkItem(continuation, state, preferLocal: true);
    }

    private readonly void Check(short token)
    {
        if (token != _version)
        {
            throw new InvalidOperationException("The operation's result was already taken.");
        }
    }
}
