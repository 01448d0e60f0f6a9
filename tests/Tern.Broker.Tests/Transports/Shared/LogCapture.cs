using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tern.Server;
using Tern.TestKit;

namespace Tern.Transports.Tests;

/// <summary>
/// Collects a running <see cref="TernServer"/>'s log lines, so that a test can see what the broker
/// saw (the client's address behind a proxy, the user name from a certificate) without new hooks.
/// </summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];
    private readonly Lock _sync = new();

    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>Starts capturing the log of <paramref name="server"/>.</summary>
    public static LogCapture Attach(TernServer server)
    {
        var capture = new LogCapture();
        server.Services.GetRequiredService<ILoggerFactory>().AddProvider(capture);
        return capture;
    }

    /// <summary>Completes with the first line (already logged or to come) that matches.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_sync)
        {
            foreach (var line in _lines)
            {
                if (match(line))
                {
                    return line;
                }
            }

            _waiters.Add((match, found));
        }

        try
        {
            return await found.Task.WaitAsync(timeout ?? TestTimeouts.Receive);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No matching log line; the log was:{Environment.NewLine}{string.Join(Environment.NewLine, _lines)}");
        }
    }

    public Task<string> WaitForAsync(string contains, TimeSpan? timeout = null)
        => WaitForAsync(line => line.Contains(contains, StringComparison.Ordinal), timeout);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        lock (_sync)
        {
            _lines.Enqueue(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    _waiters[i].Found.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner.Add($"{logLevel}: {category}: {formatter(state, exception)}");
    }
}
