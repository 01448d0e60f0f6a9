namespace Tern.Protocol;

/// <summary>Where a property list sits; decides which identifiers are allowed (spec table 2.2.2.2).</summary>
internal enum PropertyContext : byte
{
    Connect,
    Will,
    ConnAck,
    Publish,
    /// <summary>PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.</summary>
    Ack,
    Subscribe,
    Unsubscribe,
    Disconnect,
    Auth,
}

/// <summary>The identifiers each <see cref="PropertyContext"/> allows, as bit masks indexed by identifier.</summary>
internal static class PropertyRules
{
    private static readonly ulong[] AllowedMasks =
    [
        Mask(0x11, 0x15, 0x16, 0x17, 0x19, 0x21, 0x22, 0x26, 0x27),                          // Connect
        Mask(0x01, 0x02, 0x03, 0x08, 0x09, 0x18, 0x26),                                      // Will
        Mask(0x11, 0x12, 0x13, 0x15, 0x16, 0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x24, 0x25, 0x26,
            0x27, 0x28, 0x29, 0x2A),                                                         // ConnAck
        Mask(0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x23, 0x26),                                // Publish
        Mask(0x1F, 0x26),                                                                    // Ack
        Mask(0x0B, 0x26),                                                                    // Subscribe
        Mask(0x26),                                                                          // Unsubscribe
        Mask(0x11, 0x1C, 0x1F, 0x26),                                                        // Disconnect
        Mask(0x15, 0x16, 0x1F, 0x26),                                                        // Auth
    ];

    public static bool IsAllowed(PropertyContext context, byte id) =>
        id < 64 && (AllowedMasks[(int)context] & (1UL << id)) != 0;

    /// <summary>
    /// User properties may always repeat; a subscription identifier only in PUBLISH, where the
    /// server forwards one per matching subscription [MQTT-3.3.4-3].
    /// </summary>
    public static bool MayRepeat(PropertyContext context, byte id) =>
        id == (byte)PropertyId.UserProperty
        || (id == (byte)PropertyId.SubscriptionIdentifier && context == PropertyContext.Publish);

    private static ulong Mask(params ReadOnlySpan<int> ids)
    {
        ulong mask = 0;
        foreach (int id in ids)
        {
            mask |= 1UL << id;
        }

        return mask;
    }
}
