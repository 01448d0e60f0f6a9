using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>Opens raw MQTT connections: TCP connect, CONNECT/CONNACK, SUBSCRIBE/SUBACK.</summary>
internal static class BenchSocket
{
    public static async Task<Socket> ConnectAsync(BenchTarget target, string clientId, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target.EndPoint, ct).ConfigureAwait(false);
            await socket.SendAsync(BenchWire.Connect(clientId, target.Username, target.Password), SocketFlags.None, ct).ConfigureAwait(false);
            var connAck = await ReceivePacketAsync(socket, ct).ConfigureAwait(false) as ConnAckPacket
                ?? throw new BenchException($"{clientId}: expected CONNACK.");
            if (connAck.ReasonCode != 0)
            {
                throw new BenchException($"{clientId}: CONNACK refused with code {connAck.ReasonCode}.");
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The handshake with blocking calls. A socket that never ran an async operation keeps a blocking
    /// descriptor, so a dedicated thread's Receive is one recv call (no wait on an event set by the
    /// socket engine's thread): one wake-up per message less on the load generator's core.
    /// </summary>
    public static Socket Connect(BenchTarget target, string clientId)
    {
        // A broker that accepts but never answers fails the handshake instead of holding it forever.
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = HandshakeTimeoutMs };
        try
        {
            socket.Connect(target.EndPoint);
            socket.Send(BenchWire.Connect(clientId, target.Username, target.Password));
            var connAck = ReceivePacket(socket) as ConnAckPacket ?? throw new BenchException($"{clientId}: expected CONNACK.");
            if (connAck.ReasonCode != 0)
            {
                throw new BenchException($"{clientId}: CONNACK refused with code {connAck.ReasonCode}.");
            }

            socket.ReceiveTimeout = 0;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Subscribes to <paramref name="filters"/> with blocking calls: up to <see cref="FiltersPerPacket"/>
    /// filters per SUBSCRIBE, <see cref="PacketsAhead"/> packets ahead of their SUBACKs.
    /// </summary>
    public static void Subscribe(Socket socket, IReadOnlyList<string> filters, MqttQoS qos)
    {
        socket.ReceiveTimeout = HandshakeTimeoutMs;
        var batches = Batches(filters, qos);
        int sent = 0, acked = 0;
        while (acked < batches.Count)
        {
            while (sent < batches.Count && sent - acked < PacketsAhead)
            {
                socket.Send(batches[sent++].Bytes);
            }

            CheckSubAck(ReceivePacket(socket), batches[acked++]);
        }

        socket.ReceiveTimeout = 0;
    }

    private const int HandshakeTimeoutMs = 10_000;

    /// <summary>Filters per SUBSCRIBE packet when a subscriber has many (<c>--sub-topics</c>).</summary>
    private const int FiltersPerPacket = 100;

    /// <summary>SUBSCRIBE packets sent before waiting for the first one's SUBACK.</summary>
    private const int PacketsAhead = 8;

    public static async Task SubscribeAsync(Socket socket, IReadOnlyList<string> filters, MqttQoS qos, CancellationToken ct)
    {
        var batches = Batches(filters, qos);
        int sent = 0, acked = 0;
        while (acked < batches.Count)
        {
            while (sent < batches.Count && sent - acked < PacketsAhead)
            {
                await socket.SendAsync(batches[sent++].Bytes, SocketFlags.None, ct).ConfigureAwait(false);
            }

            CheckSubAck(await ReceivePacketAsync(socket, ct).ConfigureAwait(false), batches[acked++]);
        }
    }

    private sealed record SubscribeBatch(byte[] Bytes, ushort PacketId, string[] Filters);

    private static List<SubscribeBatch> Batches(IReadOnlyList<string> filters, MqttQoS qos)
    {
        var batches = new List<SubscribeBatch>();
        for (var start = 0; start < filters.Count; start += FiltersPerPacket)
        {
            var part = new string[Math.Min(FiltersPerPacket, filters.Count - start)];
            for (var i = 0; i < part.Length; i++)
            {
                part[i] = filters[start + i];
            }

            var packetId = (ushort)((batches.Count % ushort.MaxValue) + 1);
            batches.Add(new SubscribeBatch(BenchWire.Subscribe(part, qos, packetId), packetId, part));
        }

        return batches;
    }

    private static void CheckSubAck(MqttPacket packet, SubscribeBatch batch)
    {
        var subAck = packet as SubAckPacket ?? throw new BenchException($"Expected SUBACK for '{batch.Filters[0]}'.");
        if (subAck.PacketId != batch.PacketId || subAck.ReasonCodes.Count != batch.Filters.Length)
        {
            throw new BenchException($"SUBACK does not answer the subscription to '{batch.Filters[0]}'.");
        }

        for (var i = 0; i < batch.Filters.Length; i++)
        {
            if (subAck.ReasonCodes[i] >= 0x80)
            {
                throw new BenchException($"Subscription to '{batch.Filters[i]}' refused.");
            }
        }
    }

    private static MqttPacket ReceivePacket(Socket socket)
    {
        byte[] buffer = new byte[256];
        var filled = 0;
        while (true)
        {
            int want = Wanted(ref buffer, filled, out var packet);
            if (packet is not null)
            {
                return packet;
            }

            int n = socket.Receive(buffer.AsSpan(filled, want));
            filled += n > 0 ? n : throw new BenchException("The broker closed the connection during the handshake.");
        }
    }

    /// <summary>Reads exactly one packet (handshake only: byte by byte after the header is cheap enough here).</summary>
    private static async Task<MqttPacket> ReceivePacketAsync(Socket socket, CancellationToken ct)
    {
        byte[] buffer = new byte[256];
        var filled = 0;
        while (true)
        {
            int want = Wanted(ref buffer, filled, out var packet);
            if (packet is not null)
            {
                return packet;
            }

            int n = await socket.ReceiveAsync(buffer.AsMemory(filled, want), SocketFlags.None, ct).ConfigureAwait(false);
            filled += n > 0 ? n : throw new BenchException("The broker closed the connection during the handshake.");
        }
    }

    /// <summary>
    /// How many bytes to read next: the fixed header first, then exactly the rest, so no byte of a later
    /// packet is consumed. Sets <paramref name="packet"/> once the packet is complete.
    /// </summary>
    private static int Wanted(ref byte[] buffer, int filled, out MqttPacket? packet)
    {
        packet = null;
        int want = filled < 2 ? 2 - filled : NeededAfterHeader(buffer, filled);
        if (want == 0)
        {
            var sequence = new ReadOnlySequence<byte>(buffer, 0, filled);
            if (MqttDecoder.TryRead(ref sequence, BenchWire.Version, int.MaxValue, out packet) && packet is not null)
            {
                return 0;
            }

            throw new BenchException("Malformed packet from the broker.");
        }

        if (filled + want > buffer.Length)
        {
            Array.Resize(ref buffer, filled + want);
        }

        return want;
    }

    private static int NeededAfterHeader(byte[] buffer, int filled)
    {
        // Remaining length: up to 4 bytes starting at offset 1.
        int value = 0, shift = 0, i = 1;
        while (true)
        {
            if (i >= filled)
            {
                return 1;
            }

            byte b = buffer[i++];
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                break;
            }

            shift += 7;
        }

        return Math.Max(0, i + value - filled);
    }
}

/// <summary>Where the load goes, and the credentials every connection presents.</summary>
internal sealed record BenchTarget(string Host, int Port)
{
    public string? Username { get; init; }

    public string? Password { get; init; }

    public EndPoint EndPoint { get; } = IPAddress.TryParse(Host, out var ip)
        ? new IPEndPoint(ip, Port)
        : new DnsEndPoint(Host, Port, AddressFamily.InterNetwork);
}

/// <summary>A benchmark could not run (refused connection or subscription, bad arguments).</summary>
internal sealed class BenchException : Exception
{
    public BenchException(string message)
        : base(message)
    {
    }

    public BenchException()
    {
    }

    public BenchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
