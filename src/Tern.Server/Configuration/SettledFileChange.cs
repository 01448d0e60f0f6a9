namespace Tern.Server.Configuration;

/// <summary>
/// Tells when a polled file has changed and then stayed the same for one more poll, so that a file
/// still being written is not read half-way. It compares size and modification time rather than
/// using FileSystemWatcher: polling survives editors that replace a file by renaming, bind mounts and
/// network file systems, and uses no inotify instance. Not thread-safe: its owner polls under its lock.
/// </summary>
internal struct SettledFileChange
{
    private FileStamp _loaded;
    private FileStamp? _pending;

    /// <summary>Takes the file as it is now for the loaded version.</summary>
    public void Reset(string path)
    {
        _loaded = FileStamp.Of(path);
        _pending = null;
    }

    /// <summary>True once the file differs from the loaded version and has not changed since the last poll; that version is then the loaded one.</summary>
    public bool Poll(string path)
    {
        var stamp = FileStamp.Of(path);
        if (stamp == _loaded)
        {
            _pending = null;
            return false;
        }

        if (_pending != stamp)
        {
            _pending = stamp;
            return false;
        }

        _loaded = stamp;
        _pending = null;
        return true;
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
