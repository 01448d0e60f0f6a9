namespace Tern.Fuzz;

/// <summary>
/// A small structure-aware mutator for the in-process smoke run (no coverage feedback): bit flips,
/// interesting bytes, inserts, deletes, duplicated ranges, splices of two corpus items and tweaks
/// of MQTT length fields (the remaining length and two-byte string lengths).
/// </summary>
public sealed class Mutator(Random random, IReadOnlyList<byte[]> corpus)
{
    private const int MaxLength = 4096;
    private static readonly byte[] Interesting = [0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, 0xFE, 0x3F, 0x40, 0xC0, 0x10, 0x20, 0x30, 0x62, 0x82, 0xA2, 0xE0, 0xF0];

    public byte[] Next()
    {
        var input = new List<byte>(corpus[random.Next(corpus.Count)]);
        var rounds = 1 + random.Next(random.Next(2) == 0 ? 2 : 8);
        for (var i = 0; i < rounds; i++)
        {
            Mutate(input);
        }

        if (input.Count > MaxLength)
        {
            input.RemoveRange(MaxLength, input.Count - MaxLength);
        }

        return [.. input];
    }

    private void Mutate(List<byte> b)
    {
        if (b.Count < 2)
        {
            b.Add((byte)random.Next(256));
            return;
        }

        var at = 1 + random.Next(b.Count - 1);
        switch (random.Next(12))
        {
            case 0: // flip one bit
                b[at] ^= (byte)(1 << random.Next(8));
                break;
            case 1: // random byte
                b[at] = (byte)random.Next(256);
                break;
            case 2: // interesting byte
                b[at] = Interesting[random.Next(Interesting.Length)];
                break;
            case 3: // insert bytes
                b.InsertRange(at, RandomBytes(1 + random.Next(8)));
                break;
            case 4: // delete a range
                b.RemoveRange(at, Math.Min(1 + random.Next(8), b.Count - at));
                break;
            case 5: // duplicate a range (repeated properties, filters, packets)
            {
                var length = Math.Min(1 + random.Next(32), b.Count - at);
                b.InsertRange(at + length, b.GetRange(at, length));
                break;
            }

            case 6: // splice: append (part of) another corpus item's packets
            {
                var other = corpus[random.Next(corpus.Count)];
                if (other.Length > 1)
                {
                    var from = 1 + random.Next(other.Length - 1);
                    b.InsertRange(random.Next(2) == 0 ? b.Count : at, other.AsSpan(from).ToArray());
                }

                break;
            }

            case 7: // remaining length of the first packet: +-delta
                if (b.Count > 2)
                {
                    b[2] = (byte)(b[2] + random.Next(-3, 4));
                }

                break;
            case 8: // remaining length: a multi-byte or over-long variable byte integer
                if (b.Count > 2)
                {
                    b.RemoveAt(2);
                    b.InsertRange(2, random.Next(3) switch
                    {
                        0 => [0xFF, 0xFF, 0xFF, 0x7F],
                        1 => [0x80, 0x80, 0x80, 0x80, 0x01],
                        _ => [(byte)(0x80 | random.Next(128)), (byte)random.Next(4)],
                    });
                }

                break;
            case 9: // a two-byte length (string, binary, packet id): big-endian tweak
                if (at + 1 < b.Count)
                {
                    var value = (b[at] << 8 | b[at + 1]) + random.Next(-2, 3);
                    if (random.Next(4) == 0)
                    {
                        value = random.Next(2) == 0 ? 0xFFFF : 0;
                    }

                    b[at] = (byte)(value >> 8);
                    b[at + 1] = (byte)value;
                }

                break;
            case 10: // the selector: version, prefix, segmentation, small max packet size
                b[0] = (byte)random.Next(256);
                break;
            default: // first byte of a packet: type and flags
                b[1] = (byte)((random.Next(16) << 4) | (random.Next(3) == 0 ? random.Next(16) : b[1] & 0x0F));
                break;
        }
    }

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
