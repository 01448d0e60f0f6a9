using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace Tern.Server.Transports.Tcp;

/// <summary>
/// A polled connection's socket descriptor, taken over from the accepted <see cref="Socket"/>: 32 bytes
/// where the <see cref="Socket"/> and its <see cref="SafeSocketHandle"/> are about 180, and a close
/// that lets the unsent bytes go out (a <see cref="SafeSocketHandle"/> closed without its
/// <see cref="Socket"/> resets the connection).
/// </summary>
internal sealed class SocketDescriptor : SafeHandleMinusOneIsInvalid
{
    private SocketDescriptor(nint fd)
        : base(ownsHandle: true)
        => SetHandle(fd);

    /// <summary>
    /// Takes the descriptor out of a socket that has had no asynchronous operation (none of .NET's
    /// socket engine is attached to it); the socket is left without one and must not be used again.
    /// </summary>
    public static SocketDescriptor TakeFrom(Socket socket)
    {
        var owner = socket.SafeHandle;
        var descriptor = new SocketDescriptor(owner.DangerousGetHandle());

        // The old owners forget it: the handle is marked invalid (no close, no finalizer), and the
        // socket's finalizer, which would close its handle, does not run.
        owner.SetHandleAsInvalid();
        GC.SuppressFinalize(socket);
        return descriptor;
    }

    protected override bool ReleaseHandle() => LinuxSocket.Close(handle);
}
