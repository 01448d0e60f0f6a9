namespace Tern.Protocol.Tests;

/// <summary>Each class of bad input the receiver must check, with the reason code it produces.</summary>
public class MalformedPacketTests
{
    private const MqttProtocolVersion V310 = MqttProtocolVersion.V310;
    private const MqttProtocolVersion V311 = MqttProtocolVersion.V311;
    private const MqttProtocolVersion V500 = MqttProtocolVersion.V500;

    private static void AssertReason(ReasonCode expected, string hex, MqttProtocolVersion version) =>
        Assert.Equal(expected, TestUtil.DecodeThrows(hex, version).ReasonCode);

    // --- Fixed header flags [MQTT-2.2.2-1] [MQTT-2.2.2-2]

    [Theory]
    [InlineData("41 02 00 01")]             // PUBACK with flags 0001
    [InlineData("60 02 00 01")]             // PUBREL must be 0010
    [InlineData("80 06 00 01 00 01 61 00")] // SUBSCRIBE must be 0010
    [InlineData("A0 05 00 01 00 01 61")]    // UNSUBSCRIBE must be 0010
    [InlineData("C1 00")]                   // PINGREQ
    [InlineData("D8 00")]                   // PINGRESP
    [InlineData("E2 00")]                   // DISCONNECT
    [InlineData("11 0D 00 04 4D 51 54 54 04 02 00 3C 00 01 61")] // CONNECT
    [InlineData("22 02 00 00")]             // CONNACK
    public void Reserved_fixed_header_flags_are_malformed_MQTT_2_2_2_2(string hex) =>
        AssertReason(ReasonCode.MalformedPacket, hex, V311);

    // --- PUBLISH

    [Fact]
    public void Publish_QoS_3_is_malformed_MQTT_3_3_1_4() =>
        AssertReason(ReasonCode.MalformedPacket, "36 05 00 01 61 00 01", V311);

    [Theory]
    [InlineData(V311)]
    [InlineData(V500)]
    public void Publish_dup_with_QoS_0_is_malformed_MQTT_3_3_1_2(MqttProtocolVersion version) =>
        AssertReason(ReasonCode.MalformedPacket, version == V500 ? "38 04 00 01 61 00" : "38 03 00 01 61", version);

    [Theory]
    [InlineData("32 05 00 01 61 00 00")]    // PUBLISH QoS 1
    [InlineData("34 05 00 01 61 00 00")]    // PUBLISH QoS 2
    [InlineData("40 02 00 00")]             // PUBACK
    [InlineData("50 02 00 00")]             // PUBREC
    [InlineData("62 02 00 00")]             // PUBREL
    [InlineData("70 02 00 00")]             // PUBCOMP
    [InlineData("82 06 00 00 00 01 61 00")] // SUBSCRIBE
    [InlineData("90 03 00 00 00")]          // SUBACK
    [InlineData("A2 05 00 00 00 01 61")]    // UNSUBSCRIBE
    [InlineData("B0 02 00 00")]             // UNSUBACK
    public void Packet_id_0_is_a_protocol_error_MQTT_2_3_1_1(string hex) =>
        AssertReason(ReasonCode.ProtocolError, hex, V311);

    [Theory]
    [InlineData("30 05 00 03 61 2F 2B")] // "a/+"
    [InlineData("30 05 00 03 61 2F 23")] // "a/#"
    [InlineData("30 03 00 01 2B")]       // "+"
    [InlineData("30 02 00 00")]          // empty topic
    public void Publish_topic_with_wildcards_or_empty_is_a_protocol_error_MQTT_3_3_2_2(string hex) =>
        AssertReason(ReasonCode.ProtocolError, hex, V311);

    [Fact]
    public void Publish_5_0_invalid_topic_is_topic_name_invalid() =>
        AssertReason(ReasonCode.TopicNameInvalid, "30 06 00 03 61 2F 23 00", V500);

    [Fact]
    public void Publish_5_0_empty_topic_without_alias_is_topic_name_invalid() =>
        AssertReason(ReasonCode.TopicNameInvalid, "30 03 00 00 00", V500);

    [Fact]
    public void Publish_5_0_empty_topic_with_topic_alias_is_allowed()
    {
        var p = (PublishPacket)TestUtil.Decode(TestUtil.Hex("30 07 00 00 03 23 00 01 41"), V500);
        Assert.Equal("", p.Topic);
        Assert.Equal((ushort)1, p.Properties!.TopicAlias);
    }

    [Fact]
    public void Topic_alias_0_is_topic_alias_invalid_MQTT_3_3_2_8() =>
        AssertReason(ReasonCode.TopicAliasInvalid, "30 07 00 01 61 03 23 00 00", V500);

    // --- UTF-8 strings [MQTT-1.5.4-1] [MQTT-1.5.4-2]

    [Theory]
    [InlineData("30 04 00 02 C3 28")]    // invalid continuation byte
    [InlineData("30 05 00 03 ED A0 80")] // UTF-16 surrogate D800 encoded as UTF-8
    [InlineData("30 04 00 02 C0 80")]    // overlong NUL
    [InlineData("30 03 00 01 FF")]       // byte never valid in UTF-8
    [InlineData("30 04 00 02 E2 82")]    // truncated sequence
    public void Ill_formed_UTF8_is_malformed_MQTT_1_5_4_1(string hex) =>
        AssertReason(ReasonCode.MalformedPacket, hex, V311);

    [Fact]
    public void Null_character_is_malformed_MQTT_1_5_4_2() =>
        AssertReason(ReasonCode.MalformedPacket, "30 05 00 03 61 00 62", V311);

    [Fact]
    public void Ill_formed_UTF8_in_client_id_is_malformed() =>
        AssertReason(ReasonCode.MalformedPacket, "10 0D 00 04 4D 51 54 54 04 02 00 3C 00 01 FF", V311);

    [Fact]
    public void Ill_formed_UTF8_in_user_property_is_malformed() =>
        AssertReason(ReasonCode.MalformedPacket, "30 0C 00 01 61 08 26 00 01 6B 00 02 C3 28", V500);

    // --- SUBSCRIBE / UNSUBSCRIBE

    [Fact]
    public void Subscribe_without_filters_is_a_protocol_error_MQTT_3_8_3_3() =>
        AssertReason(ReasonCode.ProtocolError, "82 02 00 01", V311);

    [Fact]
    public void Unsubscribe_without_filters_is_a_protocol_error_MQTT_3_10_3_2() =>
        AssertReason(ReasonCode.ProtocolError, "A2 02 00 01", V311);

    [Theory]
    [InlineData("82 06 00 01 00 01 61 04", V311)]    // 3.1.1: bits 7-2 reserved
    [InlineData("82 06 00 01 00 01 61 80", V311)]
    [InlineData("82 06 00 01 00 01 61 03", V311)]    // QoS 3
    [InlineData("82 07 00 01 00 00 01 61 40", V500)] // 5.0: bits 7-6 reserved
    [InlineData("82 07 00 01 00 00 01 61 03", V500)] // QoS 3
    [InlineData("82 07 00 01 00 00 01 61 30", V500)] // Retain Handling 3
    public void Subscription_options_reserved_bits_QoS3_RetainHandling3_are_malformed_MQTT_3_8_3_5(
        string hex, MqttProtocolVersion version) =>
        AssertReason(ReasonCode.MalformedPacket, hex, version);

    [Fact]
    public void Subscribe_with_invalid_filter_syntax_decodes_for_the_broker_to_answer_per_filter()
    {
        // "a/#/b" and "a+" are invalid filters, answered 0x80/0x8F in SUBACK, not by closing.
        var p = (SubscribePacket)TestUtil.Decode(
            TestUtil.Hex("82 0F 00 01 00 05 61 2F 23 2F 62 01 00 02 61 2B 00"), V311);
        Assert.Equal(["a/#/b", "a+"], p.Subscriptions.Select(s => s.Filter));
    }

    [Fact]
    public void Unsubscribe_with_invalid_filter_syntax_decodes() =>
        Assert.IsType<UnsubscribePacket>(TestUtil.Decode(TestUtil.Hex("A2 07 00 01 00 03 23 2F 61"), V311));

    [Fact]
    public void No_local_on_shared_subscription_is_a_protocol_error_MQTT_3_8_3_4() =>
        // "$share/g/a" with options 0x05 (No Local, QoS 1)
        AssertReason(ReasonCode.ProtocolError, "82 10 00 01 00 00 0A 24 73 68 61 72 65 2F 67 2F 61 05", V500);

    // --- CONNECT

    [Theory]
    [InlineData("10 0D 00 04 4D 51 54 58 04 02 00 3C 00 01 61")]                   // "MQTX" level 4
    [InlineData("10 0D 00 04 4D 51 54 54 03 02 00 3C 00 01 61")]                   // "MQTT" level 3
    [InlineData("10 0D 00 04 4D 51 54 54 06 02 00 3C 00 01 61")]                   // "MQTT" level 6
    [InlineData("10 0F 00 06 4D 51 49 73 64 70 04 02 00 3C 00 01 61")]             // "MQIsdp" level 4
    [InlineData("10 0D 00 04 6D 71 74 74 04 02 00 3C 00 01 61")]                   // "mqtt" (case matters)
    public void Unsupported_protocol_name_or_level_MQTT_3_1_2_1_MQTT_3_1_2_2(string hex) =>
        AssertReason(ReasonCode.UnsupportedProtocolVersion, hex, V311);

    [Fact]
    public void Connect_reserved_flag_is_malformed_MQTT_3_1_2_3() =>
        AssertReason(ReasonCode.MalformedPacket, "10 0D 00 04 4D 51 54 54 04 03 00 3C 00 01 61", V311);

    [Theory]
    [InlineData("0A")] // will QoS 1 without will flag
    [InlineData("22")] // will retain without will flag
    public void Will_QoS_or_retain_without_will_is_malformed_MQTT_3_1_2_13_MQTT_3_1_2_15(string flags) =>
        AssertReason(ReasonCode.MalformedPacket, $"10 0D 00 04 4D 51 54 54 04 {flags} 00 3C 00 01 61", V311);

    [Fact]
    public void Will_QoS_3_is_malformed_MQTT_3_1_2_14() =>
        AssertReason(ReasonCode.MalformedPacket, "10 13 00 04 4D 51 54 54 04 1E 00 3C 00 01 61 00 01 77 00 01 78", V311);

    [Fact]
    public void Password_without_username_is_malformed_in_3_1_1_MQTT_3_1_2_22() =>
        AssertReason(ReasonCode.MalformedPacket, "10 10 00 04 4D 51 54 54 04 42 00 3C 00 01 61 00 01 70", V311);

    [Fact]
    public void Password_without_username_is_allowed_in_5_0()
    {
        var p = (ConnectPacket)TestUtil.Decode(
            TestUtil.Hex("10 11 00 04 4D 51 54 54 05 42 00 3C 00 00 01 61 00 01 70"), V311);
        Assert.Null(p.Username);
        Assert.Equal(1, p.Password!.Value.Length);
    }

    [Fact]
    public void Empty_client_id_and_long_3_1_client_id_are_left_to_the_broker()
    {
        var empty = (ConnectPacket)TestUtil.Decode(TestUtil.Hex("10 0C 00 04 4D 51 54 54 04 02 00 3C 00 00"), V311);
        Assert.Equal("", empty.ClientId);
        string longId = new('x', 40);
        var p = new ConnectPacket { ProtocolVersion = V310, ClientId = longId };
        Assert.Equal(longId, ((ConnectPacket)TestUtil.Decode(MqttEncoder.ToArray(p, V310), V310)).ClientId);
    }

    [Fact]
    public void Will_topic_with_wildcard_is_rejected() =>
        AssertReason(ReasonCode.ProtocolError, "10 13 00 04 4D 51 54 54 04 06 00 3C 00 01 61 00 01 23 00 01 78", V311);

    [Fact]
    public void Truncated_connect_is_malformed() =>
        AssertReason(ReasonCode.MalformedPacket, "10 0A 00 04 4D 51 54 54 04 02 00 3C", V311);

    // --- MQTT 5.0 properties

    [Fact]
    public void Property_not_allowed_in_packet_is_malformed() =>
        // PUBLISH carrying Session Expiry Interval (0x11)
        AssertReason(ReasonCode.MalformedPacket, "30 09 00 01 61 05 11 00 00 00 01", V500);

    [Fact]
    public void Unknown_property_id_is_malformed() =>
        AssertReason(ReasonCode.MalformedPacket, "30 06 00 01 61 02 7F 00", V500);

    [Fact]
    public void Will_delay_outside_will_properties_is_malformed() =>
        AssertReason(ReasonCode.MalformedPacket, "10 12 00 04 4D 51 54 54 05 02 00 3C 05 18 00 00 00 01 00 00", V500);

    [Fact]
    public void Duplicate_single_valued_property_is_a_protocol_error() =>
        AssertReason(ReasonCode.ProtocolError, "30 08 00 01 61 04 01 01 01 00", V500);

    [Fact]
    public void Repeated_user_properties_and_publish_subscription_ids_are_allowed()
    {
        var p = (PublishPacket)TestUtil.Decode(
            TestUtil.Hex("30 14 00 01 61 10 0B 01 0B 02 26 00 01 6B 00 00 26 00 01 6B 00 00"), V500);
        Assert.Equal([1u, 2u], p.Properties!.SubscriptionIdentifiers!);
        Assert.Equal(2, p.Properties.UserProperties!.Count);
    }

    [Fact]
    public void Repeated_subscription_id_in_subscribe_is_a_protocol_error() =>
        AssertReason(ReasonCode.ProtocolError, "82 0B 00 01 04 0B 01 0B 02 00 01 61 00", V500);

    [Fact]
    public void Subscription_identifier_0_is_a_protocol_error() =>
        AssertReason(ReasonCode.ProtocolError, "82 09 00 01 02 0B 00 00 01 61 00", V500);

    [Fact]
    public void Property_length_over_4_bytes_is_malformed() =>
        AssertReason(ReasonCode.MalformedPacket, "30 08 00 01 61 80 80 80 80 01", V500);

    [Fact]
    public void Property_length_past_the_body_is_malformed() =>
        AssertReason(ReasonCode.MalformedPacket, "30 06 00 01 61 05 01 01", V500);

    [Fact]
    public void Property_value_running_past_the_property_length_is_malformed() =>
        // property length 2 but Message Expiry Interval needs 5 bytes; payload follows
        AssertReason(ReasonCode.MalformedPacket, "30 0A 00 01 61 02 02 00 00 00 3C 41", V500);

    [Theory]
    [InlineData("20 06 00 00 03 21 00 00")] // Receive Maximum 0
    [InlineData("20 08 00 00 05 27 00 00 00 00")] // Maximum Packet Size 0
    [InlineData("20 05 00 00 02 24 02")]    // Maximum QoS 2
    [InlineData("20 05 00 00 02 25 02")]    // Retain Available 2
    public void Illegal_property_values_are_protocol_errors(string hex) =>
        AssertReason(ReasonCode.ProtocolError, hex, V500);

    // --- Lengths

    [Theory]
    [InlineData("40 03 00 01 00")]       // PUBACK 3.1.1 with an extra byte
    [InlineData("B0 03 00 01 00")]       // UNSUBACK 3.1.1 with an extra byte
    [InlineData("20 03 00 00 00")]       // CONNACK 3.1.1 with an extra byte
    [InlineData("C0 01 00")]             // PINGREQ with content
    [InlineData("D0 01 00")]             // PINGRESP with content
    [InlineData("E0 01 00")]             // DISCONNECT 3.1.1 with content
    public void Trailing_bytes_are_malformed(string hex) =>
        AssertReason(ReasonCode.MalformedPacket, hex, V311);

    [Fact]
    public void Trailing_bytes_after_5_0_disconnect_properties_are_malformed() =>
        AssertReason(ReasonCode.MalformedPacket, "E0 03 00 00 FF", V500);

    [Theory]
    [InlineData("30 03 00 05 61")]       // topic longer than the body
    [InlineData("40 01 00")]             // PUBACK with half a packet id
    [InlineData("32 04 00 01 61 00")]    // QoS 1 PUBLISH missing half its packet id
    [InlineData("20 01 00")]             // CONNACK without return code
    public void Truncated_body_is_malformed(string hex) =>
        AssertReason(ReasonCode.MalformedPacket, hex, V311);

    [Theory]
    [InlineData(V310)]
    [InlineData(V311)]
    public void Auth_before_5_0_is_malformed(MqttProtocolVersion version) =>
        AssertReason(ReasonCode.MalformedPacket, "F0 00", version);

    [Fact]
    public void Auth_with_invalid_reason_code_is_a_protocol_error_MQTT_3_15_2_1() =>
        AssertReason(ReasonCode.ProtocolError, "F0 02 80 00", V500);

    [Fact]
    public void Suback_3_1_1_reserved_return_code_is_a_protocol_error_MQTT_3_9_3_2() =>
        AssertReason(ReasonCode.ProtocolError, "90 03 00 01 03", V311);

    [Fact]
    public void Connack_3_1_1_reserved_flag_bits_are_malformed_MQTT_3_2_2_1() =>
        AssertReason(ReasonCode.MalformedPacket, "20 02 02 00", V311);
}
