using Microsoft.Extensions.Hosting;

namespace Tern.Server.Configuration;

/// <summary>
/// Reloads the configuration when its file changes (polled, see <see cref="SettledFileChange"/>).
/// </summary>
internal sealed class ConfigurationFileWatcher : IHostedService, IDisposable
{
    /// <summary>How often the file is checked: a change applies within two of these.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private readonly string _path;
    private readonly Action _reload;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private ITimer? _timer;
    private SettledFileChange _file;

    public ConfigurationFileWatcher(string path, Action reload, TimeProvider time)
    {
        _path = path;
        _reload = reload;
        _time = time;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _file.Reset(_path);
            _timer = _time.CreateTimer(_ => Poll(), null, Interval, Interval);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _timer?.Dispose();
            _timer = null;
        }
    }

    private void Poll()
    {
        lock (_gate)
        {
            if (_timer is null)
            {
                return;
            }

            if (!_file.Poll(_path))
            {
                return;
            }
        }

        // Outside the lock: the reload takes its own, and StopAsync must not wait on a slow one.
        _reload();
    }
}
