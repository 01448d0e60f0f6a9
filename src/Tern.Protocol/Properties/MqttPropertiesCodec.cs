using System.Buffers;

namespace Tern.Protocol;

/// <summary>
/// MQTT 5.0 properties of a message or will as bytes, in the wire format (spec 2.2.2) with its
/// length prefix: how a store keeps them without a format of its own.
/// </summary>
public static class MqttPropertiesCodec
{
    /// <summary>The encoded list; null for no properties.</summary>
    public static byte[]? Encode(MqttProperties? properties)
    {
        var size = MqttPropertiesWriter.GetContentSize(properties);
        if (size == 0)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>(MqttPropertiesWriter.GetSize(size));
        var writer = new MqttWriter(buffer);
        MqttPropertiesWriter.Write(ref writer, properties, size);
        writer.Commit();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes what <see cref="Encode"/> wrote (the properties a PUBLISH or a will may carry).</summary>
    /// <exception cref="MqttProtocolException">The bytes are not such a property list.</exception>
    public static MqttProperties? Decode(ReadOnlyMemory<byte> encoded)
    {
        if (encoded.IsEmpty)
        {
            return null;
        }

        var reader = new MqttReader(new ReadOnlySequence<byte>(encoded));
        var properties = MqttPropertiesReader.Read(ref reader, PropertyContext.Will);
        if (reader.Remaining != 0)
        {
            ThrowHelper.ThrowMalformed("Bytes follow the property list.");
        }

        return properties;
    }
}
