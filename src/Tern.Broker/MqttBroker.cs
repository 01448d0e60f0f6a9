using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tern.Broker;

/// <summary>
/// The broker engine. Give it each accepted connection as a duplex pipe
/// (<see cref="HandleConnectionAsync"/>); it owns sessions, routing, retained messages and wills.
/// </summary>
public sealed partial class MqttBroker : IAsyncDisposable
{
    public MqttBroker(BrokerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        Time = timeProvider ?? TimeProvider.System;
    }

    public BrokerOptions Options { get; }

    internal ILoggerFactory LoggerFactory { get; }

    internal TimeProvider Time { get; }

    /// <summary>Starts the timers ($SYS updates, keep-alive and CONNECT timeouts).</summary>
    public void Start()
    {
    }

    /// <summary>Runs one client connection until it closes.</summary>
    public Task HandleConnectionAsync(IDuplexPipe transport, MqttConnectionInfo info, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(info);
        return Task.CompletedTask;
    }

    /// <summary>Closes every connection (wills of abnormal ends are not sent on shutdown) and stops the timers.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
