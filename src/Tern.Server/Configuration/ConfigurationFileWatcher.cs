using Microsoft.Extensions.Hosting;

namespace Tern.Server.Configuration;

/// <summary>
/// Reloads the configuration when its file changes. Polls the file's size and modification time, as
/// <see cref="Security.AclReloader"/> does and for the same reasons (editors that rename over the file,
/// bind mounts, no inotify instance); a change counts once the file has stayed the same for one more
/// interval, so a file still being written is not read half-way.
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
    private FileStamp _loaded;
    private FileStamp? _pending;

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
            _loaded = FileStamp.Of(_path);
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

            var stamp = FileStamp.Of(_path);
            if (stamp == _loaded)
            {
                _pending = null;
                return;
            }

            if (_pending != stamp)
            {
                _pending = stamp;
                return;
            }

            _loaded = stamp;
            _pending = null;
        }

        // Outside the lock: the reload takes its own, and StopAsync must not wait on a slow one.
        _reload();
    }

    private readonly record struct FileStamp(bool Exists, long Length, DateTime LastWriteUtc)
    {
        public static FileStamp Of(string path)
        {
            try
            {
                var info = new FileInfo(path);
                return info.Exists ? new FileStamp(true, info.Length, info.LastWriteTimeUtc) : default;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return default;
            }
        }
    }
}
