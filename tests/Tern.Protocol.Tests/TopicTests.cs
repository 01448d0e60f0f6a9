namespace Tern.Protocol.Tests;

/// <summary>Topic names, filters and matching (spec 4.7, 4.8.2), including the spec's own examples.</summary>
public class TopicTests
{
    [Theory]
    [InlineData("a", true)]
    [InlineData("a/b/c", true)]
    [InlineData("/", true)]
    [InlineData("a//b", true)]
    [InlineData("/finance", true)]
    [InlineData("$SYS/broker/uptime", true)]
    [InlineData("sport tennis", true)]
    [InlineData("日本/温度", true)]
    [InlineData("😀", true)]
    [InlineData("", false)]          // [MQTT-4.7.3-1]
    [InlineData("a/+", false)]       // [MQTT-4.7.1-1]
    [InlineData("a/#", false)]
    [InlineData("+", false)]
    [InlineData("a+b", false)]
    [InlineData("a\0b", false)]      // [MQTT-4.7.3-2]
    public void Topic_name_validity(string topic, bool valid) =>
        Assert.Equal(valid, MqttTopic.IsValidTopicName(topic));

    [Fact]
    public void Lone_surrogates_are_not_encodable_as_UTF8()
    {
        // Built at run time: attribute strings cannot hold lone surrogates (metadata stores UTF-8).
        string high = "a" + (char)0xD800;
        string low = (char)0xDC00 + "a";
        Assert.False(MqttTopic.IsValidTopicName(high));
        Assert.False(MqttTopic.IsValidTopicName(low));
        Assert.False(MqttTopic.IsValidTopicFilter(high));
        Assert.True(MqttTopic.IsValidTopicName("a" + (char)0xD83D + (char)0xDE00));
    }

    [Fact]
    public void Topic_name_is_at_most_65535_UTF8_bytes_MQTT_4_7_3_3()
    {
        Assert.True(MqttTopic.IsValidTopicName(new string('a', 65_535)));
        Assert.False(MqttTopic.IsValidTopicName(new string('a', 65_536)));
        Assert.False(MqttTopic.IsValidTopicName(new string('é', 32_768))); // 65536 bytes
    }

    [Theory]
    [InlineData("#", true)]
    [InlineData("+", true)]
    [InlineData("sport/tennis/player1/#", true)]
    [InlineData("sport/#", true)]
    [InlineData("sport/tennis/#", true)]
    [InlineData("+/tennis/#", true)]
    [InlineData("sport/+/player1", true)]
    [InlineData("+/+", true)]
    [InlineData("/+", true)]
    [InlineData("a//b", true)]
    [InlineData("/a", true)]
    [InlineData("a/", true)]
    [InlineData("/", true)]
    [InlineData("$SYS/#", true)]
    [InlineData("$share/group/a/b", true)]
    [InlineData("$share/group/#", true)]
    [InlineData("$share/group//", true)]
    [InlineData("$share", true)]           // no slash: an ordinary filter
    [InlineData("", false)]               // [MQTT-4.7.3-1]
    [InlineData("sport/tennis#", false)]  // [MQTT-4.7.1-2]
    [InlineData("sport/tennis/#/ranking", false)]
    [InlineData("a/#/b", false)]
    [InlineData("##", false)]
    [InlineData("sport+", false)]         // [MQTT-4.7.1-3]
    [InlineData("a/b+/c", false)]
    [InlineData("++", false)]
    [InlineData("a\0", false)]
    [InlineData("$share/", false)]        // [MQTT-4.8.2-1]
    [InlineData("$share/g", false)]       // [MQTT-4.8.2-2] group must be followed by "/" and a filter
    [InlineData("$share/g/", false)]
    [InlineData("$share//a", false)]
    [InlineData("$share/g+/a", false)]
    [InlineData("$share/g#/a", false)]
    [InlineData("$share/g/a/#/b", false)]
    public void Topic_filter_validity(string filter, bool valid) =>
        Assert.Equal(valid, MqttTopic.IsValidTopicFilter(filter));

    [Theory]
    // Spec 4.7.1.2 examples
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/ranking", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true)]
    [InlineData("sport/#", "sport", true)]
    [InlineData("#", "sport/tennis", true)]
    [InlineData("#", "/", true)]
    // Spec 4.7.1.3 examples
    [InlineData("sport/tennis/+", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player2", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1/ranking", false)]
    [InlineData("sport/+", "sport", false)]
    [InlineData("sport/+", "sport/", true)]
    [InlineData("+", "a", true)]
    [InlineData("+", "a/b", false)]
    [InlineData("+", "/a", false)]
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    [InlineData("+/tennis/#", "sport/tennis/player1", true)]
    [InlineData("+/tennis/#", "sport/tennis", true)]
    // $-topics [MQTT-4.7.2-1]
    [InlineData("#", "$SYS/x", false)]
    [InlineData("+/monitor/Clients", "$SYS/monitor/Clients", false)]
    [InlineData("$SYS/#", "$SYS/monitor/Clients", true)]
    [InlineData("$SYS/monitor/+", "$SYS/monitor/Clients", true)]
    [InlineData("$SYS/#", "$SYS", true)]
    [InlineData("+", "$SYS", false)]
    // Empty levels
    [InlineData("a/+/b", "a//b", true)]
    [InlineData("a//b", "a//b", true)]
    [InlineData("a/b", "a//b", false)]
    [InlineData("a/+", "a/", true)]
    [InlineData("+/+", "/", true)]
    [InlineData("/#", "/", true)]
    // Literal, case-sensitive
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "A/b", false)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/b/c", "a/b", false)]
    [InlineData("a/bc", "a/b", false)]
    [InlineData("a/b", "a/bc", false)]
    [InlineData("a/#", "a", true)]
    [InlineData("a/#", "ab", false)]
    [InlineData("a/+/#", "a", false)]
    [InlineData("a/+/#", "a/b", true)]
    public void Matches_table(string filter, string topic, bool expected) =>
        Assert.Equal(expected, MqttTopic.Matches(filter, topic));

    [Theory]
    [InlineData("$share/g/a/b", true, "g", "a/b")]
    [InlineData("$share/consumers/#", true, "consumers", "#")]
    [InlineData("$share/g//", true, "g", "/")]
    [InlineData("a/b", false, "", "")]
    [InlineData("$share/g", false, "", "")]
    [InlineData("$share//a", false, "", "")]
    [InlineData("$share/g+/a", false, "", "")]
    [InlineData("$SHARE/g/a", false, "", "")]
    public void Parses_shared_subscriptions(string filter, bool shared, string group, string inner)
    {
        Assert.Equal(shared, MqttTopic.TryParseSharedSubscription(filter, out string g, out string f));
        Assert.Equal(group, g);
        Assert.Equal(inner, f);
    }

    [Theory]
    [InlineData("a/b", false)]
    [InlineData("a/+", true)]
    [InlineData("#", true)]
    [InlineData("$share/g/a", false)]
    public void Detects_wildcards(string filter, bool expected) =>
        Assert.Equal(expected, MqttTopic.HasWildcards(filter));
}
