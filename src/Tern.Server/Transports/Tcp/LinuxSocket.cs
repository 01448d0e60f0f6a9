using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// Non-blocking receive and send on Linux with <c>MSG_DONTWAIT</c>, for sockets that
/// <see cref="SocketPoller"/> watches. <see cref="Socket.Receive(Span{byte}, SocketFlags, out SocketError)"/>
/// would do the same only on a socket switched to non-blocking, and that switch gives each socket
/// .NET's asynchronous context (about 300 bytes with its operation queues) that a polled socket
/// never uses. The handle is passed as a <see cref="SafeHandle"/>, so a socket closed meanwhile fails
/// the call instead of reaching a reused descriptor.
/// </summary>
internal static class LinuxSocket
{
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;

    public static SocketError Receive(SafeSocketHandle socket, Span<byte> buffer, out int received)
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

    public static SocketError Send(SafeSocketHandle socket, ReadOnlySpan<byte> buffer, out int sent)
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
    private static extern nint recv(SafeSocketHandle socket, ref byte buffer, nint length, int flags);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint send(SafeSocketHandle socket, ref byte buffer, nint length, int flags);
#pragma warning restore SA1300, IDE1006
}
