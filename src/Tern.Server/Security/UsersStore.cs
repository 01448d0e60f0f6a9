using System.Collections.Frozen;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tern.Server.Security;

/// <summary>
/// The users file held in memory and reloaded when it changes. Lookups read an immutable snapshot
/// (no lock on the CONNECT path); a reload builds a new snapshot and swaps it in. A file that no longer
/// parses keeps the last good users (and logs why); a deleted file means no users.
/// </summary>
public sealed class UsersStore : IDisposable
{
    // Editors and 'tern passwd' cause several events per save (create temp, write, rename): reload once after they settle.
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(100);

    // A missed watcher event (e.g. an exhausted inotify limit) is caught by a stat on lookup, at most this often.
    private static readonly TimeSpan StatInterval = TimeSpan.FromSeconds(2);

    private readonly string _path;
    private readonly object _reloadGate = new();
    private readonly TimeProvider _time;
    private ILogger _logger = NullLogger.Instance;
    private FileSystemWatcher? _watcher;
    private ITimer? _debounce;
    private volatile Snapshot _snapshot;
    private long _nextStat;
    private bool _disposed;

    /// <summary>Loads <paramref name="path"/>; call <see cref="StartWatching"/> to follow changes.</summary>
    /// <exception cref="InvalidDataException">The file is malformed.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public UsersStore(string path, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = Path.GetFullPath(path);
        _time = timeProvider ?? TimeProvider.System;
        var stamp = Stamp();
        _snapshot = new Snapshot(UsersFile.Load(_path), stamp);
    }

    /// <summary>The file's full path.</summary>
    public string FilePath => _path;

    /// <summary>Number of users in the current snapshot.</summary>
    public int Count => _snapshot.Users.Count;

    /// <summary>Raised after a reload that changed the snapshot (tests and logs).</summary>
    public event Action? Reloaded;

    /// <summary>The hash for <paramref name="username"/>, or null; also a hash to burn time on for unknown users.</summary>
    public bool TryGetHash(string username, out string hash, out string dummyHash)
    {
        StatIfDue();
        var snapshot = _snapshot;
        dummyHash = snapshot.DummyHash;
        return snapshot.Users.TryGetValue(username, out hash!);
    }

    /// <summary>Follows the file with a watcher on its directory, logging reloads and errors to <paramref name="logger"/>.</summary>
    public void StartWatching(ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        lock (_reloadGate)
        {
            if (_disposed || _watcher is not null)
            {
                return;
            }

            _debounce = _time.CreateTimer(_ => Reload(force: true), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            try
            {
                var watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!, Path.GetFileName(_path))
                {
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                };
                watcher.Changed += OnFileEvent;
                watcher.Created += OnFileEvent;
                watcher.Deleted += OnFileEvent;
                watcher.Renamed += OnFileEvent;
                watcher.Error += (_, e) => _logger.LogWarning(e.GetException(), "Watching the users file {Path} failed; changes are noticed on the next CONNECT instead", _path);
                watcher.EnableRaisingEvents = true;
                _watcher = watcher;
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
            {
                // The stat on lookup still notices changes.
                _logger.LogWarning(ex, "Cannot watch the users file {Path}; changes are noticed on the next CONNECT instead", _path);
            }
        }
    }

    /// <summary>Reloads now if the file's time stamp or size changed (or always with <paramref name="force"/>).</summary>
    public void Reload(bool force = false)
    {
        bool changed;
        lock (_reloadGate)
        {
            if (_disposed)
            {
                return;
            }

            var stamp = Stamp();
            if (!force && stamp == _snapshot.Stamp)
            {
                return;
            }

            if (stamp.Exists is false)
            {
                _logger.LogWarning("The users file {Path} is gone: no user can log in with a password until it is back", _path);
                _snapshot = new Snapshot([], stamp);
                changed = true;
            }
            else
            {
                try
                {
                    _snapshot = new Snapshot(UsersFile.Load(_path), stamp);
                    _logger.LogInformation("Reloaded the users file {Path}: {Count} users", _path, _snapshot.Users.Count);
                    changed = true;
                }
                catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    // Keep serving the last good users: a half-edited file must not lock everyone out.
                    _logger.LogError("The users file {Path} was not reloaded, the previous users stay: {Reason}", _path, ex.Message);
                    _snapshot = _snapshot with { Stamp = stamp };
                    changed = false;
                }
            }
        }

        if (changed)
        {
            Reloaded?.Invoke();
        }
    }

    public void Dispose()
    {
        lock (_reloadGate)
        {
            _disposed = true;
            _watcher?.Dispose();
            _watcher = null;
            _debounce?.Dispose();
            _debounce = null;
        }
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        lock (_reloadGate)
        {
            _debounce?.Change(Debounce, Timeout.InfiniteTimeSpan);
        }
    }

    private void StatIfDue()
    {
        var now = _time.GetTimestamp();
        var next = Interlocked.Read(ref _nextStat);
        if (now < next || Interlocked.CompareExchange(ref _nextStat, now + (long)(StatInterval.TotalSeconds * _time.TimestampFrequency), next) != next)
        {
            return;
        }

        Reload();
    }

    private FileStamp Stamp()
    {
        var info = new FileInfo(_path);
        return info.Exists ? new FileStamp(true, info.LastWriteTimeUtc, info.Length) : new FileStamp(false, default, 0);
    }

    private readonly record struct FileStamp(bool Exists, DateTime LastWrite, long Length);

    private sealed record Snapshot
    {
        public Snapshot(IReadOnlyList<UsersFileEntry> entries, FileStamp stamp)
        {
            Users = entries.ToFrozenDictionary(e => e.Username, e => e.Hash, StringComparer.Ordinal);
            Stamp = stamp;

            // Unknown users are verified against a hash of the same cost as the real ones, so the time
            // of the answer does not tell whether a user exists.
            var iterations = entries.Count > 0 && UsersPasswordHash.TryGetIterations(entries[0].Hash, out var i) ? i : UsersPasswordHash.DefaultIterations;
            DummyHash = UsersPasswordHash.Format(iterations, new byte[UsersPasswordHash.SaltLength], new byte[UsersPasswordHash.HashLength]);
        }

        public FrozenDictionary<string, string> Users { get; }

        public FileStamp Stamp { get; init; }

        public string DummyHash { get; }
    }
}
