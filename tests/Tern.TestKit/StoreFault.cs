using System.Runtime.InteropServices;

namespace Tern.TestKit;

/// <summary>
/// Makes a running broker's store fail as a full disk does, without a full disk: the file the store
/// appends to (the log engine's newest segment, or SQLite's <c>tern.db-wal</c>) is swapped under it
/// for <c>/dev/full</c>, so that its next write fails with ENOSPC. The broker and its store run
/// unchanged. Linux only (it finds the file in <c>/proc/self/fd</c>), and only for a
/// broker in this process (<see cref="TestBroker"/>).
/// </summary>
public static class StoreFault
{
    /// <summary>Makes every further write to the store at <paramref name="storePath"/> (a log store's directory, or a SQLite file) fail with "disk full".</summary>
    public static void FillDisk(string storePath)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("StoreFault needs Linux (/proc/self/fd and /dev/full).");
        }

        var fullPath = Path.GetFullPath(storePath);
        Func<string, bool> isLog = Directory.Exists(fullPath)
            ? target => Path.GetDirectoryName(target) == fullPath && target.EndsWith(".log", StringComparison.Ordinal)
            : target => target == fullPath + "-wal";
        var log = Directory.Exists(fullPath) ? Path.Combine(fullPath, "*.log") : fullPath + "-wal";
        var swapped = 0;
        using var full = File.OpenHandle("/dev/full", FileMode.Open, FileAccess.ReadWrite);
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(entry).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed while enumerating
            }

            if (target is not null && isLog(target) && int.TryParse(Path.GetFileName(entry), out var fd))
            {
                if (Dup2((int)full.DangerousGetHandle(), fd) < 0)
                {
                    throw new InvalidOperationException($"dup2 onto the store's log ({log}, fd {fd}) failed: errno {Marshal.GetLastPInvokeError()}.");
                }

                swapped++;
            }
        }

        if (swapped == 0)
        {
            throw new InvalidOperationException($"{log} is not open in this process: is the broker running here, with Persistence:Mode durable or strict?");
        }
    }

    // DllImport rather than LibraryImport: plain ints need no marshalling, and the kit needs no unsafe code.
    [DllImport("libc", EntryPoint = "dup2", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Dup2(int oldFd, int newFd);
}
