using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// The process's two epoll sets, each with one thread (Linux): <see cref="Shared"/> tells a
/// <see cref="SocketConnection"/> that its socket has bytes (or an end) to read, and its
/// <see cref="Writable"/> tells a <see cref="SocketOutput"/> that its full socket takes data again.
/// An idle connection is then one epoll registration in the kernel and a slot here: no pending
/// receive, no event args and no .NET <see cref="Socket"/> or socket context (about 800 bytes of heap
/// per connection less than a zero-byte receive).
/// </summary>
/// <remarks>
/// Registrations are one-shot (<c>EPOLLONESHOT</c>): a socket is told once and re-arms when it wants
/// to wait again, so a readiness is never lost or delivered twice. The kernel hands back a token
/// (slot and generation), not a pointer: an event that races with a close finds the slot reused
/// or empty and is ignored. Elsewhere than on Linux, <see cref="Shared"/> is null and inputs wait
/// with a zero-byte receive.
/// </remarks>
internal sealed class SocketPoller
{
    private const int EpollCtlAdd = 1;
    private const int EpollCtlMod = 3;
    private const uint EpollIn = 0x001;
    private const uint EpollOut = 0x004;
    private const uint EpollRdHup = 0x2000;
    private const uint EpollOneShot = 1u << 30;
    private const int Eintr = 4;
    private const int MaxEvents = 256;
    private const int EpollCloexec = 0x80000;

    private static readonly Lazy<SocketPoller?> Instance = new(Create);
    private static readonly bool IsX64 = RuntimeInformation.ProcessArchitecture == Architecture.X64;

    private readonly int _epoll;
    private readonly uint _interest;
    private readonly bool _inline;
    private readonly Lock _gate = new();
    private IPolled?[] _slots = new IPolled?[256];
    private uint[] _generations = new uint[256];
    private int[] _free = new int[256];
    private int _freeCount;
    private int _used;
    private EpollEventX64[]? _x64Events;
    private EpollEvent[]? _events;

    private SocketPoller(int epoll, uint events, bool inline, string name)
    {
        _epoll = epoll;
        _interest = events;
        _inline = inline;
        var thread = new Thread(Run) { IsBackground = true, Name = name };
        thread.UnsafeStart();
    }

    /// <summary>
    /// The process's poller for reads, or null where there is no epoll (connections then use .NET's
    /// sockets: zero-byte receives and asynchronous sends).
    /// </summary>
    public static SocketPoller? Shared => Instance.Value;

    /// <summary>The poller for writes that goes with <see cref="Shared"/>; null on <see cref="Writable"/> itself.</summary>
    public SocketPoller? Writable { get; private init; }

    /// <summary>Gives the socket a slot; the token names it in <see cref="Arm"/> and <see cref="Unregister"/>.</summary>
    public ulong Register(IPolled target)
    {
        lock (_gate)
        {
            int slot;
            if (_freeCount > 0)
            {
                slot = _free[--_freeCount];
            }
            else
            {
                if (_used == _slots.Length)
                {
                    // Readers of the old array see only slots that were already taken: an input is
                    // armed only after its slot is published in the current one.
                    Array.Resize(ref _generations, _used * 2);
                    var slots = new IPolled?[_used * 2];
                    Array.Copy(_slots, slots, _used);
                    Volatile.Write(ref _slots, slots);
                }

                slot = _used++;
            }

            var generation = ++_generations[slot];
            _slots[slot] = target;
            return ((ulong)generation << 32) | (uint)slot;
        }
    }

    public void Unregister(ulong token)
    {
        var slot = (int)(uint)token;
        lock (_gate)
        {
            if (_generations[slot] != (uint)(token >> 32))
            {
                return;
            }

            _generations[slot]++;
            _slots[slot] = null;
            if (_freeCount == _free.Length)
            {
                Array.Resize(ref _free, _free.Length * 2);
            }

            _free[_freeCount++] = slot;
        }
    }

    /// <summary>
    /// Adds the socket to the set, not armed yet (<see cref="Arm"/> does that). False if epoll refused
    /// it: out of watches (<c>fs.epoll.max_user_watches</c>), say.
    /// </summary>
    public bool Add(SafeHandle socket, ulong token) => Control(socket, EpollCtlAdd, EpollOneShot, token);

    /// <summary>
    /// Asks to be told once when the socket is ready (or closed); with <paramref name="first"/> it is
    /// added to the set as well. False if epoll refused it or the socket is closed (the caller then
    /// finds out by reading or sending).
    /// </summary>
    public bool Arm(SafeHandle socket, ulong token, bool first = false)
        => Control(socket, first ? EpollCtlAdd : EpollCtlMod, _interest | EpollOneShot, token);

    private bool Control(SafeHandle socket, int op, uint events, ulong token)
    {
        // Held across the call, so that a close meanwhile cannot hand the descriptor to another socket.
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            var fd = (int)socket.DangerousGetHandle();
            return EpollCtl(_epoll, op, fd, events, token) == 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    private static SocketPoller? Create()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64 && RuntimeInformation.ProcessArchitecture != Architecture.Arm64)
        {
            return null;
        }

        int reads, writes;
        try
        {
            reads = EpollCreate1(EpollCloexec);
            writes = reads < 0 ? -1 : EpollCreate1(EpollCloexec);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }

        if (writes < 0)
        {
            if (reads >= 0)
            {
                _ = CloseEpoll(reads);
            }

            return null;
        }

        // As .NET's own socket engine: completions run on the polling thread when the process asked
        // for that (tern start does, see Program.cs), else on the thread pool.
        var inline = Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is "1" or "true";
        return new SocketPoller(reads, EpollIn | EpollRdHup, inline, "Tern socket poller")
        {
            Writable = new SocketPoller(writes, EpollOut, inline, "Tern socket poller (writes)"),
        };
    }

    private void Run()
    {
        var tokens = new ulong[MaxEvents];
        while (true)
        {
            var count = Wait(tokens);
            if (count < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Eintr)
                {
                    continue;
                }

                // A poller that cannot wait leaves every connection deaf: stop loudly.
                Environment.FailFast($"epoll_wait failed with errno {errno}.");
            }

            var slots = Volatile.Read(ref _slots);
            for (var i = 0; i < count; i++)
            {
                var token = tokens[i];
                var slot = (int)(uint)token;
                if ((uint)slot >= (uint)slots.Length || slots[slot] is not { } target || target.PollToken != token)
                {
                    continue;
                }

                if (_inline)
                {
                    target.OnReady();
                }
                else
                {
                    ThreadPool.UnsafeQueueUserWorkItem(target, preferLocal: false);
                }
            }
        }
    }

    private static int EpollCtl(int epoll, int op, int fd, uint events, ulong token)
    {
        if (IsX64)
        {
            var packed = new EpollEventX64 { Events = events, Data = token };
            return EpollCtlX64(epoll, op, fd, ref packed);
        }

        var aligned = new EpollEvent { Events = events, Data = token };
        return EpollCtlAligned(epoll, op, fd, ref aligned);
    }

    /// <summary>On the polling thread: waits for events and leaves their tokens in <paramref name="tokens"/>.</summary>
    private int Wait(ulong[] tokens)
    {
        int count;
        if (IsX64)
        {
            var raw = _x64Events ??= new EpollEventX64[MaxEvents];
            count = EpollWaitX64(_epoll, raw, MaxEvents, -1);
            for (var i = 0; i < count; i++)
            {
                tokens[i] = raw[i].Data;
            }
        }
        else
        {
            var raw = _events ??= new EpollEvent[MaxEvents];
            count = EpollWaitAligned(_epoll, raw, MaxEvents, -1);
            for (var i = 0; i < count; i++)
            {
                tokens[i] = raw[i].Data;
            }
        }

        return count;
    }

    // struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16 on arm64).
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEventX64
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [DllImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int EpollCtlX64(int epfd, int op, int fd, ref EpollEventX64 ev);

    [DllImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int EpollWaitX64(int epfd, [Out] EpollEventX64[] events, int maxevents, int timeout);

    [DllImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int EpollCtlAligned(int epfd, int op, int fd, ref EpollEvent ev);

    [DllImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int EpollWaitAligned(int epfd, [Out] EpollEvent[] events, int maxevents, int timeout);

    [DllImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int EpollCreate1(int flags);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int CloseEpoll(int fd);
}

/// <summary>What a <see cref="SocketPoller"/> tells: the slot's current token, and the readiness (run inline or as a work item).</summary>
internal interface IPolled : IThreadPoolWorkItem
{
    /// <summary>The token <see cref="SocketPoller.Register"/> gave (0 once unregistered): a readiness with another is stale.</summary>
    ulong PollToken { get; }

    /// <summary>The socket is ready (or closed, or failed).</summary>
    void OnReady();
}
