using System.Collections.Frozen;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tern.Server.Security;

/// <summary>
/// The users file held in memory and reloaded when it changes. Lookups read an immutable snapshot
/// (no lock on the CONNECT path); a reload builds a new snapshot and swaps it in. A file that no longer
/// parses keeps the last good users (and logs why); a deleted file means no users. An optional file
/// (the default path) may not exist yet: it is picked up when it appears, even when its directory
/// is created later.
/// </summary>
public sealed class UsersStore : IDisposable
{
    // Editors and 'tern passwd' cause several events per save (create temp, write, rename): reload once after they settle.
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(100);

    private readonly string _path;
    private readonly object _reloadGate = new();
    private readonly TimeProvider _time;
    private ILogger _logger = NullLogger.Instance;
    private FileSystemWatcher? _watcher;
    private ITimer? _debounce;
    private volatile Snapshot _snapshot;
    private bool _disposed;
    private bool _watchRequested;
    private bool _watchFailed;
    private volatile bool _everLoaded;

    /// <summary>Loads <paramref name="path"/>; call <see cref="StartWatching"/> to follow changes.</summary>
    /// <param name="path">The users file.</param>
    /// <param name="timeProvider">The clock of the stat on lookup (tests).</param>
    /// <param name="optional">When true, a missing file means no users yet instead of an error.</param>
    /// <exception cref="InvalidDataException">The file is malformed.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public UsersStore(string path, TimeProvider? timeProvider = null, bool optional = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = Path.GetFullPath(path);
        _time = timeProvider ?? TimeProvider.System;
        var stamp = Stamp();
        if (optional && !stamp.Exists)
        {
            _snapshot = new Snapshot([], stamp);
        }
        else
        {
            _snapshot = new Snapshot(UsersFile.Load(_path), stamp);
            _everLoaded = true;
        }
    }

    /// <summary>The file's full path.</summary>
    public string FilePath => _path;

    /// <summary>Number of users in the current snapshot.</summary>
    public int Count => _snapshot.Users.Count;

    /// <summary>
    /// True once the file has been read: from then on user names are checked against it (a later
    /// deletion means no password users, not unchecked names). False while an optional file never existed.
    /// </summary>
    public bool IsInForce => _everLoaded;

    /// <summary>Raised after a reload that changed the snapshot (tests and logs).</summary>
    public event Action? Reloaded;

    /// <summary>The hash for <paramref name="username"/>, or null; also a hash to burn time on for unknown users.</summary>
    public bool TryGetHash(string username, out string hash, out string dummyHash)
    {
        Refresh();
        var snapshot = _snapshot;
        dummyHash = snapshot.DummyHash;
        return snapshot.Users.TryGetValue(username, out hash!);
    }

    /// <summary>
    /// Follows the file with a watcher on its directory, logging reloads and errors to <paramref name="logger"/>.
    /// A directory that does not exist yet is watched from when it appears (checked on each lookup until then).
    /// </summary>
    public void StartWatching(ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        lock (_reloadGate)
        {
            _watchRequested = true;
            _debounce ??= _time.CreateTimer(_ => Reload(force: true), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            TryAttachWatcher();
        }
    }

    /// <summary>True while a watcher follows the file's directory (tests).</summary>
    public bool IsWatching
    {
        get
        {
            lock (_reloadGate)
            {
                return _watcher is not null;
            }
        }
    }

    private void TryAttachWatcher()
    {
        if (_disposed || _watcher is not null || !_watchRequested || _watchFailed)
        {
            return;
        }

        var directory = Path.GetDirectoryName(_path)!;
        if (!Directory.Exists(directory))
        {
            // Lookups stat the file until the directory exists ('tern passwd add' creates it).
            return;
        }

        try
        {
            var watcher = new FileSystemWatcher(directory, Path.GetFileName(_path))
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

            // The file may have appeared between the last stat and the watcher's start.
            _debounce?.Change(Debounce, Timeout.InfiniteTimeSpan);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
        {
            // The stat on lookup still notices changes.
            _watchFailed = true;
            _logger.LogWarning(ex, "Cannot watch the users file {Path}; changes are noticed on the next CONNECT instead", _path);
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

            if (stamp.Exists is false && !_everLoaded)
            {
                // An optional file that never existed: still no users, nothing to say.
                _snapshot = _snapshot with { Stamp = stamp };
                changed = false;
            }
            else if (stamp.Exists is false)
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
                    _everLoaded = true;
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

    private void Refresh()
    {
        if (_watchRequested && !_watchFailed && Volatile.Read(ref _watcher) is null)
        {
            // No watcher yet: its directory did not exist ('tern passwd add' creates it).
            lock (_reloadGate)
            {
                TryAttachWatcher();
            }
        }

        // A stat per lookup, cheap next to a CONNECT: a file written a moment ago is what the next
        // client is checked against, before the watcher's debounced reload (or without a watcher).
        if (Stamp() != _snapshot.Stamp)
        {
            Reload();
        }
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
