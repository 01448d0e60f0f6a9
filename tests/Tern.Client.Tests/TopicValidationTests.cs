using Tern.Protocol;

namespace Tern.Client.Tests;

/// <summary>A bad topic is a programming error: the ArgumentException names the topic and the rule it breaks.</summary>
public sealed class TopicValidationTests : IAsyncLifetime
{
    // Validation comes before anything else, so a client that never connects shows it.
    private readonly MqttClient _client = new(new MqttClientOptions { Uri = "mqtt://127.0.0.1:1" });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _client.DisposeAsync();

    [Theory]
    [InlineData("a/#/b", "'a/#/b' is not a valid topic filter: '#' must be the last level.")]
    [InlineData("a/b#", "'a/b#' is not a valid topic filter: '#' must be a whole level by itself, not part of 'b#'.")]
    [InlineData("a/x+/c", "'a/x+/c' is not a valid topic filter: '+' must be a whole level by itself, not part of 'x+'.")]
    [InlineData("", "A topic filter cannot be empty.")]
    [InlineData("a\0b", "'a\0b' is not a valid topic filter: it contains U+0000, which MQTT forbids.")]
    [InlineData("$share//a", "'$share//a' is not a valid topic filter: a shared subscription is $share/{group}/{filter}, and the group name is empty.")]
    [InlineData("$share/g+/a", "'$share/g+/a' is not a valid topic filter: the share group name 'g+' cannot contain '+' or '#'.")]
    [InlineData("$share/g/", "'$share/g/' is not a valid topic filter: a shared subscription is $share/{group}/{filter}, and the filter after the group is missing.")]
    [InlineData("$share/g/a/#/b", "'$share/g/a/#/b' is not a valid topic filter: '#' must be the last level.")]
    public void Subscribe_and_Unsubscribe_say_which_filter_is_bad_and_why(string filter, string expected)
    {
        var subscribe = Assert.Throws<ArgumentException>(() => _client.Subscribe(filter, MqttQoS.AtLeastOnce));
        Assert.Equal(expected + " (Parameter 'filter')", subscribe.Message);

        var several = Assert.Throws<ArgumentException>(() => _client.Subscribe([("ok/+", MqttQoS.AtMostOnce), (filter, MqttQoS.AtLeastOnce)]));
        Assert.Equal(expected + " (Parameter 'filters')", several.Message);

        var unsubscribe = Assert.Throws<ArgumentException>(() => _client.Unsubscribe(["ok/#", filter]));
        Assert.Equal(expected + " (Parameter 'filters')", unsubscribe.Message);
    }

    [Theory]
    [InlineData("a/#", "'a/#' is not a valid topic name: it contains '#', a wildcard; wildcards are for subscribing, not publishing.")]
    [InlineData("a/+/c", "'a/+/c' is not a valid topic name: it contains '+', a wildcard; wildcards are for subscribing, not publishing.")]
    [InlineData("", "A topic name cannot be empty.")]
    public void Publish_says_why_the_topic_is_not_a_topic_name(string topic, string expected)
    {
        var publish = Assert.Throws<ArgumentException>(() => _client.Publish(topic, "x"));
        Assert.Equal(expected + " (Parameter 'topic')", publish.Message);

        // PublishAsync throws at the call, not in the task: the caller's bug shows where it is.
        var async = Assert.Throws<ArgumentException>(() => { _ = _client.PublishAsync(topic, "x", MqttQoS.AtLeastOnce); });
        Assert.Equal(expected + " (Parameter 'topic')", async.Message);
    }

    [Fact]
    public void An_unpaired_surrogate_is_named()
    {
        // Not InlineData: test discovery would turn the lone surrogate into U+FFFD.
        string topic = "a" + '\ud800';

        var publish = Assert.Throws<ArgumentException>(() => _client.Publish(topic, "x"));

        Assert.Equal($"'{topic}' is not a valid topic name: it contains an unpaired surrogate (U+D800), which UTF-8 cannot encode. (Parameter 'topic')", publish.Message);
    }

    [Fact]
    public void A_too_long_topic_is_shown_shortened_with_its_size()
    {
        string topic = new('t', 70_000);

        var publish = Assert.Throws<ArgumentException>(() => _client.Publish(topic, "x"));

        Assert.Equal(
            $"'{new string('t', 100)}…' (70000 characters) is not a valid topic name: it is 70000 bytes in UTF-8, more than the 65535 MQTT allows. (Parameter 'topic')",
            publish.Message);
    }

    [Fact]
    public void Valid_filters_and_topics_pass()
    {
        // Not connected: the calls get as far as the connection check.
        Assert.Equal(-1, _client.Subscribe([("a/+/c", MqttQoS.AtMostOnce), ("#", MqttQoS.AtMostOnce), ("$share/g/a/#", MqttQoS.AtMostOnce), ("/", MqttQoS.AtMostOnce)]));
        Assert.Equal(-1, _client.Unsubscribe("a/#"));
        Assert.Equal(-1, _client.Publish("a/b", "x"));
    }
}
