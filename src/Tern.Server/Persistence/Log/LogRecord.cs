using System.Buffers.Binary;
using System.Text;
using Tern.Broker;
using Tern.Broker.Persistence;
using Tern.Protocol;

namespace Tern.Server.Persistence.Log;

/// <summary>What a record in the log does. The values are on disk: never renumber.</summary>
internal enum LogRecordType : byte
{
    /// <summary>Forget everything before (an import replaces the store with what follows).</summary>
    Reset = 1,
    SessionPut = 2,

    /// <summary>A session ends: it goes with its subscriptions, deliveries and incoming ids.</summary>
    SessionDelete = 3,
    SubscriptionPut = 4,
    SubscriptionDelete = 5,
    MessagePut = 6,
    MessageDelete = 7,
    DeliveryPut = 8,
    DeliveryDelete = 9,
    IncomingPut = 10,
    IncomingDelete = 11,
    RetainedPut = 12,
    RetainedDelete = 13,
    BanPut = 14,
    BanDelete = 15,
}

/// <summary>
/// Encodes records into one frame: <c>[u32 payload length][u32 CRC-32 of the payload][payload]</c>,
/// the payload being the batch's wall-clock time (i64) and its records, each a type byte and its
/// fields (integers as LEB128 varints, strings and blobs length-prefixed, optional values behind a
/// presence byte). One frame is one batch: a crash leaves it whole or detectably torn.
/// </summary>
internal sealed class LogEncoder
{
    public const int HeaderSize = 8;

    private byte[] _buffer = new byte[64 * 1024];
    private int _length;

    /// <summary>Bytes encoded so far, the frame header included (the next record starts here).</summary>
    public int Length => _length;

    public void BeginFrame(long writtenUnixMs)
    {
        _length = HeaderSize;
        Fixed64(writtenUnixMs);
    }

    /// <summary>Completes the header; the frame is <c>[0, Length)</c> of the returned buffer.</summary>
    public ReadOnlySpan<byte> EndFrame()
    {
        var payload = _buffer.AsSpan(HeaderSize, _length - HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(4), System.IO.Hashing.Crc32.HashToUInt32(payload));
        return _buffer.AsSpan(0, _length);
    }

    /// <summary>Lets a buffer grown for a large frame (an import, a compaction) go.</summary>
    public void Trim()
    {
        if (_buffer.Length > 4 << 20)
        {
            _buffer = new byte[64 * 1024];
        }
    }

    /// <summary>Copies a record as it is (compaction moves live records to the head of the log).</summary>
    public void Raw(ReadOnlySpan<byte> record)
    {
        Ensure(record.Length);
        record.CopyTo(_buffer.AsSpan(_length));
        _length += record.Length;
    }

    public void Reset() => Byte((byte)LogRecordType.Reset);

    public void SessionPut(StoredSession s)
    {
        Byte((byte)LogRecordType.SessionPut);
        String(s.ClientId);
        VarUInt(s.ExpiryInterval);
        OptionalInt64(s.DisconnectedUnixMs);
        if (s.Will is { } will)
        {
            Byte(1);
            String(will.Topic);
            Blob(will.Payload.Span);
            Byte((byte)will.QoS);
            Byte(will.Retain ? (byte)1 : (byte)0);
            OptionalBlob(will.Properties);
        }
        else
        {
            Byte(0);
        }

        OptionalInt64(s.WillDueUnixMs);
        OptionalString(s.Username);
        OptionalString(s.Address);
        OptionalString(s.Listener);
    }

    public void SessionDelete(string clientId)
    {
        Byte((byte)LogRecordType.SessionDelete);
        String(clientId);
    }

    public void SubscriptionPut(StoredSubscription s)
    {
        Byte((byte)LogRecordType.SubscriptionPut);
        String(s.ClientId);
        String(s.Filter);
        Byte((byte)s.Options.QoS);
        Byte((byte)((s.Options.NoLocal ? 1 : 0) | (s.Options.RetainAsPublished ? 2 : 0)));
        Byte(s.Options.RetainHandling);
        if (s.SubscriptionIdentifier is { } id)
        {
            Byte(1);
            VarUInt(id);
        }
        else
        {
            Byte(0);
        }
    }

    public void SubscriptionDelete(string clientId, string filter)
    {
        Byte((byte)LogRecordType.SubscriptionDelete);
        String(clientId);
        String(filter);
    }

    public void MessagePut(StoredMessage m)
    {
        Byte((byte)LogRecordType.MessagePut);
        VarInt(m.Id);
        String(m.Topic);
        Blob(m.Payload.Span);
        Byte((byte)m.QoS);
        Byte(m.Retain ? (byte)1 : (byte)0);
        OptionalBlob(m.Properties);
        OptionalString(m.PublisherClientId);
        VarInt(m.CreatedUnixMs);
    }

    public void MessageDelete(long id)
    {
        Byte((byte)LogRecordType.MessageDelete);
        VarInt(id);
    }

    public void DeliveryPut(StoredDelivery d)
    {
        Byte((byte)LogRecordType.DeliveryPut);
        String(d.ClientId);
        VarInt(d.Sequence);
        VarInt(d.MessageId);
        Byte((byte)d.QoS);
        Byte((byte)((d.Retain ? 1 : 0) | (d.Released ? 2 : 0)));
        VarUInt(d.PacketId);
        if (d.SubscriptionIdentifiers is { } ids)
        {
            VarUInt((ulong)ids.Length + 1);
            foreach (var id in ids)
            {
                VarUInt(id);
            }
        }
        else
        {
            Byte(0);
        }

        OptionalString(d.SharedFilter);
    }

    public void DeliveryDelete(string clientId, long sequence)
    {
        Byte((byte)LogRecordType.DeliveryDelete);
        String(clientId);
        VarInt(sequence);
    }

    public void Incoming(string clientId, ushort packetId, bool put)
    {
        Byte((byte)(put ? LogRecordType.IncomingPut : LogRecordType.IncomingDelete));
        String(clientId);
        VarUInt(packetId);
    }

    public void RetainedPut(string topic, long messageId)
    {
        Byte((byte)LogRecordType.RetainedPut);
        String(topic);
        VarInt(messageId);
    }

    public void RetainedDelete(string topic)
    {
        Byte((byte)LogRecordType.RetainedDelete);
        String(topic);
    }

    public void BanPut(Ban ban)
    {
        Byte((byte)LogRecordType.BanPut);
        Byte((byte)ban.Kind);
        String(ban.Value);
        OptionalInt64(ban.Until?.ToUnixTimeMilliseconds());
        String(ban.Reason);
    }

    public void BanDelete(BanKind kind, string value)
    {
        Byte((byte)LogRecordType.BanDelete);
        Byte((byte)kind);
        String(value);
    }

    private void Byte(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    private void Fixed64(long value)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    private void VarInt(long value) => VarUInt((ulong)value);

    private void VarUInt(ulong value)
    {
        Ensure(10);
        while (value >= 0x80)
        {
            _buffer[_length++] = (byte)(value | 0x80);
            value >>= 7;
        }

        _buffer[_length++] = (byte)value;
    }

    private void String(string value)
    {
        if (value.Length < 128)
        {
            // Nearly every string: encoded in place after a one-byte length (42 UTF-16 units make at
            // most 126 bytes) or a two-byte one (127 make at most 381), the length filled in after.
            Ensure((value.Length * 3) + 2);
            var start = _length;
            var prefix = value.Length < 43 ? 1 : 2;
            var written = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(start + prefix));
            if (prefix == 1)
            {
                _buffer[start] = (byte)written;
            }
            else
            {
                // LEB128 in two bytes, even below 128 (readers take any length of varint).
                _buffer[start] = (byte)(written | 0x80);
                _buffer[start + 1] = (byte)(written >> 7);
            }

            _length = start + prefix + written;
            return;
        }

        Blob(Encoding.UTF8.GetBytes(value));
    }

    private void OptionalString(string? value)
    {
        if (value is null)
        {
            Byte(0);
            return;
        }

        Byte(1);
        String(value);
    }

    private void Blob(ReadOnlySpan<byte> value)
    {
        VarUInt((ulong)value.Length);
        Ensure(value.Length);
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
    }

    private void OptionalBlob(byte[]? value)
    {
        if (value is null)
        {
            Byte(0);
            return;
        }

        Byte(1);
        Blob(value);
    }

    private void OptionalInt64(long? value)
    {
        if (value is { } v)
        {
            Byte(1);
            VarInt(v);
        }
        else
        {
            Byte(0);
        }
    }

    private void Ensure(int bytes)
    {
        if (_length + bytes > _buffer.Length)
        {
            var size = Math.Max(_buffer.Length * 2L, (long)_length + bytes);
            if (size > Array.MaxLength)
            {
                size = Math.Max(Array.MaxLength, _length + bytes);
            }

            Array.Resize(ref _buffer, (int)size);
        }
    }
}

/// <summary>Reads the records of one frame's payload (after its time stamp); throws <see cref="FormatException"/> on anything malformed.</summary>
internal ref struct LogDecoder(ReadOnlySpan<byte> payload)
{
    private readonly ReadOnlySpan<byte> _data = payload;
    private int _position = 8;

    public readonly long WrittenUnixMs => BinaryPrimitives.ReadInt64LittleEndian(_data);

    public readonly bool End => _position >= _data.Length;

    /// <summary>Where the next record starts in the payload.</summary>
    public readonly int Position => _position;

    public LogRecordType Type() => (LogRecordType)Byte();

    public StoredSession Session(string clientId)
    {
        var expiry = (uint)VarUInt();
        var disconnected = OptionalInt64();
        StoredWill? will = null;
        if (Byte() == 1)
        {
            will = new StoredWill(String(), Blob(), QoS(), Byte() == 1, OptionalBlob());
        }

        return new StoredSession(clientId, expiry, disconnected, will, OptionalInt64(), OptionalString(), OptionalString(), OptionalString());
    }

    public StoredSubscription Subscription(string clientId, string filter)
    {
        var qos = QoS();
        var flags = Byte();
        var handling = Byte();
        uint? id = Byte() == 1 ? (uint)VarUInt() : null;
        return new StoredSubscription(clientId, filter, new SubscriptionOptions(qos, (flags & 1) != 0, (flags & 2) != 0, handling), id);
    }

    public StoredMessage Message(long id)
        => new(id, String(), Blob(), QoS(), Byte() == 1, OptionalBlob(), OptionalString(), VarInt());

    public StoredDelivery Delivery(string clientId, long sequence)
    {
        var messageId = VarInt();
        var qos = QoS();
        var flags = Byte();
        var packetId = VarUInt();
        if (packetId > ushort.MaxValue)
        {
            throw new FormatException($"packet id {packetId} out of range");
        }

        uint[]? ids = null;
        var count = VarUInt();
        if (count > 0)
        {
            if (count - 1 > (ulong)(_data.Length - _position))
            {
                throw new FormatException("subscription identifier count past the end of the frame");
            }

            ids = new uint[count - 1];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = (uint)VarUInt();
            }
        }

        return new StoredDelivery(clientId, sequence, messageId, qos, (flags & 1) != 0, ids, OptionalString(), (ushort)packetId, (flags & 2) != 0);
    }

    public ushort PacketId()
    {
        var value = VarUInt();
        return value <= ushort.MaxValue ? (ushort)value : throw new FormatException($"packet id {value} out of range");
    }

    public Ban Ban(BanKind kind, string value)
    {
        var until = OptionalInt64();
        return new Ban(kind, value, until is { } u ? DateTimeOffset.FromUnixTimeMilliseconds(u) : null, String());
    }

    public BanKind BanKind()
    {
        var kind = (BanKind)Byte();
        return Enum.IsDefined(kind) ? kind : throw new FormatException($"unknown ban kind {(int)kind}");
    }

    public byte Byte()
    {
        if (_position >= _data.Length)
        {
            throw new FormatException("record past the end of the frame");
        }

        return _data[_position++];
    }

    public long VarInt() => (long)VarUInt();

    public ulong VarUInt()
    {
        ulong value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            var b = Byte();
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new FormatException("varint too long");
    }

    public string String()
    {
        var length = Length();
        var value = Encoding.UTF8.GetString(_data.Slice(_position, length));
        _position += length;
        return value;
    }

    private MqttQoS QoS()
    {
        var qos = Byte();
        return qos <= 2 ? (MqttQoS)qos : throw new FormatException($"QoS {qos} out of range");
    }

    private byte[] Blob()
    {
        var length = Length();
        var value = _data.Slice(_position, length).ToArray();
        _position += length;
        return value;
    }

    private byte[]? OptionalBlob() => Byte() == 1 ? Blob() : null;

    private string? OptionalString() => Byte() == 1 ? String() : null;

    private long? OptionalInt64() => Byte() == 1 ? VarInt() : null;

    private int Length()
    {
        var length = VarUInt();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new FormatException("length past the end of the frame");
        }

        return (int)length;
    }
}
