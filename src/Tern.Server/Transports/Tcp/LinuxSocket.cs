using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// The socket calls of a connection that <see cref="SocketPoller"/> watches (Linux): non-blocking
/// receive and send with <c>MSG_DONTWAIT</c>, shutdown and close, on a <see cref="SocketDescriptor"/>
/// rather than a <see cref="Socket"/>. A <see cref="Socket"/> and its handle cost an idle connection
/// about 180 bytes, and its non-blocking mode .NET's asynchronous context (about 300 more) that a
/// polled socket never uses. The descriptor is passed as a <see cref="SafeHandle"/>, so a socket
/// closed meanwhile fails the call instead of reaching a reused descriptor.
/// </summary>
internal static class LinuxSocket
{
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;

    public static SocketError Receive(SafeHandle socket, Span<byte> buffer, out int received)
    {
        while (true)
        {
            var n = recv(socket, ref MemoryMarshal.GetReference(buffer), buffer.Length, MsgDontWait);
            if (n >= 0)
            {
                received = (int)n;
                return SocketError.Success;
            }

            var error = Translate(Marshal.GetLastPInvokeError());
            if (error != SocketError.Interrupted)
            {
                received = 0;
                return error;
            }
        }
    }

    public static SocketError Send(SafeHandle socket, ReadOnlySpan<byte> buffer, out int sent)
    {
        while (true)
        {
            var n = send(socket, ref MemoryMarshal.GetReference(buffer), buffer.Length, MsgDontWait | MsgNoSignal);
            if (n >= 0)
            {
                sent = (int)n;
                return SocketError.Success;
            }

            var error = Translate(Marshal.GetLastPInvokeError());
            if (error != SocketError.Interrupted)
            {
                sent = 0;
                return error;
            }
        }
    }

    /// <summary>Half-closes (<paramref name="how"/>: <see cref="SocketShutdown"/>); a socket the client closed first is no error here.</summary>
    public static void Shutdown(SafeHandle socket, SocketShutdown how)
    {
        try
        {
            _ = shutdown(socket, how switch { SocketShutdown.Receive => 0, SocketShutdown.Send => 1, _ => 2 });
        }
        catch (ObjectDisposedException)
        {
            // Closed already.
        }
    }

    /// <summary>Makes the close that follows a reset (<c>SO_LINGER</c> 0) instead of a FIN after the unsent bytes.</summary>
    public static void ResetOnClose(SafeHandle socket)
    {
        var linger = new Linger { OnOff = 1, Seconds = 0 };
        try
        {
            _ = setsockopt(socket, SolSocket, SoLinger, ref linger, Marshal.SizeOf<Linger>());
        }
        catch (ObjectDisposedException)
        {
            // Closed already.
        }
    }

    /// <summary>Closes the descriptor (<see cref="SocketDescriptor"/> does, once nothing uses it).</summary>
    public static bool Close(nint fd) => close((int)fd) == 0 || Marshal.GetLastPInvokeError() == 4; // EINTR: closed all the same on Linux

    private const int SolSocket = 1;
    private const int SoLinger = 13;

    // The errno values a connected TCP socket reports (Linux numbering).
    private static SocketError Translate(int errno) => errno switch
    {
        4 => SocketError.Interrupted,             // EINTR
        11 => SocketError.WouldBlock,             // EAGAIN, EWOULDBLOCK
        9 => SocketError.OperationAborted,        // EBADF: closed under us
        32 => SocketError.Shutdown,               // EPIPE
        103 => SocketError.ConnectionAborted,     // ECONNABORTED
        104 => SocketError.ConnectionReset,       // ECONNRESET
        107 => SocketError.NotConnected,          // ENOTCONN
        110 => SocketError.TimedOut,              // ETIMEDOUT
        101 => SocketError.NetworkUnreachable,    // ENETUNREACH
        113 => SocketError.HostUnreachable,       // EHOSTUNREACH
        12 or 105 => SocketError.NoBufferSpaceAvailable, // ENOMEM, ENOBUFS
        _ => SocketError.SocketError,
    };

#pragma warning disable SA1300, IDE1006 // libc's names
    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint recv(SafeHandle socket, ref byte buffer, nint length, int flags);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint send(SafeHandle socket, ref byte buffer, nint length, int flags);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int shutdown(SafeHandle socket, int how);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int setsockopt(SafeHandle socket, int level, int name, ref Linger value, int length);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int close(int fd);

    [StructLayout(LayoutKind.Sequential)]
    private struct Linger
    {
        public int OnOff;
        public int Seconds;
    }
#pragma warning restore SA1300, IDE1006
}
