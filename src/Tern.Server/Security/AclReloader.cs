using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tern.Server.Security;

/// <summary>
/// Reloads <c>Acl:File</c> when it changes (polled, see <see cref="Configuration.SettledFileChange"/>).
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
    private Configuration.SettledFileChange _file;

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
            if (_loadedPath is not null)
            {
                _file.Reset(_loadedPath);
            }

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
                _file.Reset(path);
                return;
            }

            if (!_file.Poll(path))
            {
                return;
            }

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
}
