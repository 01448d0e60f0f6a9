using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tern.TestKit;

/// <summary>Ports for programs that must be told one (Mosquitto, Prometheus, a broker restarted on the same port).</summary>
public static class TestPorts
{
    private static readonly int EphemeralFirst = ReadEphemeralFirst();

    /// <summary>
    /// A port that is free now on 127.0.0.1, chosen at random below the kernel's ephemeral range: the
    /// kernel never hands such a port to a socket bound to port 0 or to an outgoing connection, so
    /// between this call and the program's bind (or while a restarted program's port is free) no
    /// other test's socket takes it. Where that range starts too low, a port the kernel picks.
    /// </summary>
    public static int Free()
    {
        const int lowest = 10_000;
        for (var attempt = 0; EphemeralFirst > lowest + 1000 && attempt < 100; attempt++)
        {
            var port = Random.Shared.Next(lowest, EphemeralFirst);
            if (TryBind(port))
            {
                return port;
            }
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool TryBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port of <c>net.ipv4.ip_local_port_range</c> (Linux), else the IANA range's 49152.</summary>
    private static int ReadEphemeralFirst()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 49152;
        }
    }
}
