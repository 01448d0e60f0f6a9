using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;

namespace Tern.Server.Transports;

/// <summary>
/// Parses a PROXY protocol header (HAProxy's spec, versions 1 and 2) from the start of a connection.
/// Pure: the caller reads from the transport and feeds what it has.
/// </summary>
internal static class ProxyProtocolParser
{
    /// <summary>Longest v1 line, "\r\n" included (the spec's 107 bytes).</summary>
    public const int V1MaxLength = 107;

    private const int V2HeaderLength = 16;

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public enum Status
    {
        /// <summary>More bytes are needed.</summary>
        Incomplete,

        /// <summary>A whole header was read; the source address is in the result (null: keep the socket's, e.g. LOCAL or UNKNOWN).</summary>
        Done,
    }

    /// <summary>Parses the header at the start of <paramref name="buffer"/>.</summary>
    /// <exception cref="InvalidDataException">No valid PROXY header; the message says why.</exception>
    public static Status TryParse(ReadOnlySequence<byte> buffer, out int length, out IPEndPoint? source)
    {
        length = 0;
        source = null;
        if (buffer.IsEmpty)
        {
            return Status.Incomplete;
        }

        Span<byte> head = stackalloc byte[V2HeaderLength];
        var headLength = (int)Math.Min(buffer.Length, V2HeaderLength);
        buffer.Slice(0, headLength).CopyTo(head);
        head = head[..headLength];

        if (head[0] == (byte)'P')
        {
            CheckPrefix(head, V1Prefix, "v1 header must start with 'PROXY '");
            return ParseV1(buffer, out length, out source);
        }

        if (head[0] == V2Signature[0])
        {
            CheckPrefix(head, V2Signature, "v2 signature mismatch");
            if (head.Length < V2HeaderLength)
            {
                return Status.Incomplete;
            }

            return ParseV2(buffer, head, out length, out source);
        }

        throw new InvalidDataException("the connection does not start with a PROXY protocol header");
    }

    private static void CheckPrefix(ReadOnlySpan<byte> head, ReadOnlySpan<byte> prefix, string reason)
    {
        var n = Math.Min(head.Length, prefix.Length);
        if (!head[..n].SequenceEqual(prefix[..n]))
        {
            throw new InvalidDataException(reason);
        }
    }

    private static Status ParseV1(ReadOnlySequence<byte> buffer, out int length, out IPEndPoint? source)
    {
        length = 0;
        source = null;
        var window = buffer.Slice(0, Math.Min(buffer.Length, V1MaxLength));
        var newline = window.PositionOf((byte)'\n');
        if (newline is null)
        {
            return window.Length >= V1MaxLength
                ? throw new InvalidDataException($"v1 header longer than {V1MaxLength} bytes")
                : Status.Incomplete;
        }

        var line = Encoding.ASCII.GetString(window.Slice(0, newline.Value));
        length = line.Length + 1;
        if (!line.EndsWith('\r'))
        {
            throw new InvalidDataException("v1 header must end with CRLF");
        }

        var parts = line[..^1].Split(' ');
        if (parts.Length >= 2 && parts[1] == "UNKNOWN")
        {
            return Status.Done;
        }

        if (parts.Length != 6 || parts[1] is not ("TCP4" or "TCP6"))
        {
            throw new InvalidDataException("v1 header must be 'PROXY TCP4|TCP6 src dst sport dport' or 'PROXY UNKNOWN'");
        }

        var family = parts[1] == "TCP4" ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.InterNetworkV6;
        if (!IPAddress.TryParse(parts[2], out var address) || address.AddressFamily != family
            || !IPAddress.TryParse(parts[3], out var destination) || destination.AddressFamily != family)
        {
            throw new InvalidDataException($"v1 header has an invalid {parts[1]} address");
        }

        if (!ushort.TryParse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || !ushort.TryParse(parts[5], NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            throw new InvalidDataException("v1 header has an invalid port");
        }

        source = new IPEndPoint(address, port);
        return Status.Done;
    }

    private static Status ParseV2(ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> head, out int length, out IPEndPoint? source)
    {
        source = null;
        var versionCommand = head[12];
        if (versionCommand >> 4 != 2)
        {
            throw new InvalidDataException($"v2 header has version {versionCommand >> 4}");
        }

        var command = versionCommand & 0x0F;
        if (command > 1)
        {
            throw new InvalidDataException($"v2 header has unknown command {command}");
        }

        var family = head[13];
        var addressLength = BinaryPrimitives.ReadUInt16BigEndian(head[14..]);
        length = V2HeaderLength + addressLength;
        if (buffer.Length < length)
        {
            return Status.Incomplete;
        }

        // LOCAL (health checks by the proxy itself) and UNSPEC/UNIX keep the socket's address.
        if (command == 0)
        {
            return Status.Done;
        }

        var addressBytes = buffer.Slice(V2HeaderLength, addressLength).ToArray();
        switch (family >> 4)
        {
            case 1: // AF_INET: src 4, dst 4, src port 2, dst port 2
                RequireLength(addressBytes, 12, "IPv4");
                source = new IPEndPoint(new IPAddress(addressBytes.AsSpan(0, 4)), BinaryPrimitives.ReadUInt16BigEndian(addressBytes.AsSpan(8)));
                break;
            case 2: // AF_INET6: src 16, dst 16, src port 2, dst port 2
                RequireLength(addressBytes, 36, "IPv6");
                source = new IPEndPoint(new IPAddress(addressBytes.AsSpan(0, 16)), BinaryPrimitives.ReadUInt16BigEndian(addressBytes.AsSpan(32)));
                break;
            case 0 or 3:
                break;
            default:
                throw new InvalidDataException($"v2 header has unknown address family {family >> 4}");
        }

        return Status.Done;
    }

    private static void RequireLength(byte[] addressBytes, int needed, string family)
    {
        if (addressBytes.Length < needed)
        {
            throw new InvalidDataException($"v2 header too short for an {family} address");
        }
    }
}
