using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Security;

/// <summary>
/// Reloads <c>Acl:File</c> when it changes. Polls the file's size and modification time rather than
/// using FileSystemWatcher: polling survives editors that replace the file by renaming, bind mounts
/// and network file systems, and uses no inotify instance per broker. A change is loaded once the
/// file has stayed the same for one more interval, so a file still being written is not read half-way.
/// A file that fails to load is logged and the previous rules stay.
/// </summary>
internal sealed class AclReloader : IHostedService, IDisposable
{
    private readonly AclSetup _setup;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private ITimer? _timer;
    private string? _loadedPath;
    private FileStamp _loaded;
    private FileStamp? _pending;

    public AclReloader(AclSetup setup, ILogger logger, TimeProvider time)
    {
        _setup = setup;
        _logger = logger;
        _time = time;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var rules = _setup.Authorizer.Rules;
        if (_setup.Configured)
        {
            AclLog.Loaded(_logger, rules.Rules.Length, _setup.FilePath is null ? "configuration" : _setup.FilePath, rules.DefaultAllow ? "allow" : "deny");
        }

        // Polls even without a file: a configuration reload (SIGHUP) may name one.
        if (_setup.ReloadInterval > TimeSpan.Zero)
        {
            // The stamp may be a little newer than what was loaded at startup; at worst one extra reload.
            _loadedPath = _setup.FilePath;
            _loaded = _loadedPath is null ? default : FileStamp.Of(_loadedPath);
            _timer = _time.CreateTimer(_ => Poll(), null, _setup.ReloadInterval, _setup.ReloadInterval);
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

    /// <summary>One check of the file; public for tests that drive it without a timer.</summary>
    internal void Poll()
    {
        // Timer callbacks can overlap when a load is slow; the lock keeps one at a time.
        lock (_gate)
        {
            if (_timer is null)
            {
                return;
            }

            if (_setup.FilePath is not { } path)
            {
                return;
            }

            if (path != _loadedPath)
            {
                // A reload named another file and has just read it: follow that one from here.
                _loadedPath = path;
                _loaded = FileStamp.Of(path);
                _pending = null;
                return;
            }

            var stamp = FileStamp.Of(path);
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
            try
            {
                if (_setup.ApplyFile(path, AclFile.Load(path)) is { } rules)
                {
                    AclLog.Reloaded(_logger, path, rules.Rules.Length, rules.DefaultAllow ? "allow" : "deny");
                }
            }
            catch (TernConfigurationException ex)
            {
                AclLog.ReloadFailed(_logger, ex.Message);
            }
        }
    }

    /// <summary>What identifies a version of the file without reading it.</summary>
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
