using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Tern.Protocol;

namespace Tern.Cli.Bench;

/// <summary>Opens raw MQTT connections: TCP connect, CONNECT/CONNACK, SUBSCRIBE/SUBACK.</summary>
internal static class BenchSocket
{
    /// <summary>
    /// TCP connect, CONNECT, CONNACK. With a persistent session (<see cref="BenchTarget.CleanSession"/>
    /// false) that the broker already had (session present: an earlier run with these ids left it, with
    /// its subscriptions and queued messages), the session is ended with a clean connect first and the
    /// run starts from an empty one, as every run does.
    /// </summary>
    public static async Task<Socket> ConnectAsync(BenchTarget target, string clientId, CancellationToken ct)
    {
        var (socket, sessionPresent) = await HandshakeAsync(target, clientId, ct).ConfigureAwait(false);
        if (!sessionPresent || target.CleanSession)
        {
            return socket;
        }

        await DisconnectAsync(socket).ConfigureAwait(false);
        var (clean, _) = await HandshakeAsync(target with { CleanSession = true }, clientId, ct).ConfigureAwait(false);
        await DisconnectAsync(clean).ConfigureAwait(false);

        // Whatever this one resumes, the clean connect left empty.
        return (await HandshakeAsync(target, clientId, ct).ConfigureAwait(false)).Socket;
    }

    /// <summary>Sends DISCONNECT (the will is not published, a persistent session stays) and closes.</summary>
    public static async Task DisconnectAsync(Socket socket)
    {
        try
        {
            await socket.SendAsync(BenchWire.Disconnect(), SocketFlags.None).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // Closed already: nothing more to say to it.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private static async Task<(Socket Socket, bool SessionPresent)> HandshakeAsync(BenchTarget target, string clientId, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target.EndPoint, ct).ConfigureAwait(false);
            await socket.SendAsync(BenchWire.Connect(clientId, target.Username, target.Password, target.CleanSession), SocketFlags.None, ct).ConfigureAwait(false);
            var connAck = await ReceivePacketAsync(socket, ct).ConfigureAwait(false) as ConnAckPacket
                ?? throw new BenchException($"{clientId}: expected CONNACK.");
            return (socket, Accepted(connAck, clientId));
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
    /// socket engine's thread): one wake-up per message less on the load generator's core. A session
    /// present is ended first, as in <see cref="ConnectAsync"/>.
    /// </summary>
    public static Socket Connect(BenchTarget target, string clientId)
    {
        var socket = Handshake(target, clientId, out bool sessionPresent);
        if (!sessionPresent || target.CleanSession)
        {
            return socket;
        }

        Disconnect(socket);
        Disconnect(Handshake(target with { CleanSession = true }, clientId, out _));
        return Handshake(target, clientId, out _);
    }

    private static void Disconnect(Socket socket)
    {
        try
        {
            socket.Send(BenchWire.Disconnect());
        }
        catch (SocketException)
        {
            // Closed already: nothing more to say to it.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private static Socket Handshake(BenchTarget target, string clientId, out bool sessionPresent)
    {
        // A broker that accepts but never answers fails the handshake instead of holding it forever.
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = HandshakeTimeoutMs };
        try
        {
            socket.Connect(target.EndPoint);
            socket.Send(BenchWire.Connect(clientId, target.Username, target.Password, target.CleanSession));
            var connAck = ReceivePacket(socket) as ConnAckPacket ?? throw new BenchException($"{clientId}: expected CONNACK.");
            sessionPresent = Accepted(connAck, clientId);
            socket.ReceiveTimeout = 0;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Throws when the broker refused the connection; returns its session present flag.</summary>
    private static bool Accepted(ConnAckPacket connAck, string clientId) =>
        connAck.ReasonCode == 0 ? connAck.SessionPresent : throw new BenchException($"{clientId}: CONNACK refused with code {connAck.ReasonCode}.");

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

            var packet = ReceivePacket(socket);
            if (EarlyPublishAck(packet) is { } ack)
            {
                socket.Send(ack);
                continue;
            }

            CheckSubAck(packet, batches[acked++]);
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

            var packet = await ReceivePacketAsync(socket, ct).ConfigureAwait(false);
            if (EarlyPublishAck(packet) is { } ack)
            {
                await socket.SendAsync(ack, SocketFlags.None, ct).ConfigureAwait(false);
                continue;
            }

            CheckSubAck(packet, batches[acked++]);
        }
    }

    /// <summary>
    /// A broker may deliver matching messages before it sends the SUBACK (spec 3.8.4) (Tern does when the
    /// SUBACK waits for the store). They come before the measurement starts: answered so the broker's window
    /// stays open, not counted. Returns the bytes to send (empty for QoS 0), or null when it is not a PUBLISH.
    /// </summary>
    private static byte[]? EarlyPublishAck(MqttPacket packet)
    {
        if (packet is not PublishPacket publish)
        {
            return null;
        }

        if (publish.QoS == MqttQoS.AtMostOnce)
        {
            return [];
        }

        var ack = new byte[4];
        BenchWire.WriteAck(ack, publish.QoS == MqttQoS.AtLeastOnce ? BenchWire.PubAck : BenchWire.PubRec, publish.PacketId);
        return ack;
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

/// <summary>Where the load goes, and the credentials and session kind every connection presents.</summary>
internal sealed record BenchTarget(string Host, int Port)
{
    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>false (<c>-c</c>): every connection has a persistent session (clean session 0), which starts empty.</summary>
    public bool CleanSession { get; init; } = true;

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
