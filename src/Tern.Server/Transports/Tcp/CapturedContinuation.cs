using System.Threading.Tasks.Sources;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// A continuation that asked (<see cref="ValueTaskSourceOnCompletedFlags"/>) to run in its execution
/// context or on its synchronization context or task scheduler. The broker's awaits ask for neither
/// and never get here; other readers (tests, an embedder) may.
/// </summary>
internal sealed class CapturedContinuation
{
    private static readonly Action<object?> Invoke = static s => ((CapturedContinuation)s!).Run();

    private readonly Action<object?> _continuation;
    private readonly object? _state;
    private readonly ExecutionContext? _context;
    private readonly object? _scheduler;

    private CapturedContinuation(Action<object?> continuation, object? state, ExecutionContext? context, object? scheduler)
        => (_continuation, _state, _context, _scheduler) = (continuation, state, context, scheduler);

    /// <summary>The continuation to register: the one given, or a wrapper that runs it where it asked.</summary>
    public static (Action<object?> Continuation, object? State) Capture(Action<object?> continuation, object? state, ValueTaskSourceOnCompletedFlags flags)
    {
        var context = (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0 ? ExecutionContext.Capture() : null;
        object? scheduler = null;
        if ((flags & ValueTaskSourceOnCompletedFlags.UseSchedulingContext) != 0)
        {
            if (SynchronizationContext.Current is { } synchronizationContext && synchronizationContext.GetType() != typeof(SynchronizationContext))
            {
                scheduler = synchronizationContext;
            }
            else if (TaskScheduler.Current != TaskScheduler.Default)
            {
                scheduler = TaskScheduler.Current;
            }
        }

        return context is null && scheduler is null ? (continuation, state) : (Invoke, new CapturedContinuation(continuation, state, context, scheduler));
    }

    private void Run()
    {
        switch (_scheduler)
        {
            case SynchronizationContext synchronizationContext:
                synchronizationContext.Post(static s => ((CapturedContinuation)s!).RunHere(), this);
                break;
            case TaskScheduler taskScheduler:
                _ = Task.Factory.StartNew(static s => ((CapturedContinuation)s!).RunHere(), this, CancellationToken.None, TaskCreationOptions.DenyChildAttach, taskScheduler);
                break;
            default:
                RunHere();
                break;
        }
    }

    private void RunHere()
    {
        if (_context is null)
        {
            _continuation(_state);
        }
        else
        {
            ExecutionContext.Run(_context, static s => ((CapturedContinuation)s!)._continuation(((CapturedContinuation)s!)._state), this);
        }
    }
}
