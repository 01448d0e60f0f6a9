using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tern.Broker;

namespace Tern.Server.Hosting;

/// <summary>
/// Ties the broker to the host's lifetime. It uses the "-ing" lifecycle hooks because they run before
/// any hosted service's Start/Stop: the broker is started before Kestrel accepts, and on shutdown it
/// closes its clients before Kestrel stops (Kestrel would otherwise wait its whole shutdown timeout
/// for MQTT connections that never end on their own).
/// </summary>
internal sealed class BrokerLifetimeService(MqttBroker broker, ILogger<BrokerLifetimeService> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        broker.Start();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        Log.Stopping(logger);
        return broker.StopAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        Log.Stopped(logger);
        return Task.CompletedTask;
    }
}
