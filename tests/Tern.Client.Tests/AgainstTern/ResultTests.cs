using Tern.Protocol;
using Tern.TestKit;

namespace Tern.Client.Tests;

/// <summary>What a user sees when printing the results of PublishAsync, SubscribeAsync and UnsubscribeAsync.</summary>
public sealed class ResultTests : IAsyncLifetime
{
    private TestBroker _broker = null!;

    private string Uri => $"mqtt://127.0.0.1:{_broker.Port}";

    // Subscriptions to secret/# are refused, everything else is allowed.
    public async Task InitializeAsync() => _broker = await TestBroker.StartAsync(new Dictionary<string, string?>
    {
        ["Acl:Rules:0:Allow"] = "false",
        ["Acl:Rules:0:All"] = "true",
        ["Acl:Rules:0:Action"] = "subscribe",
        ["Acl:Rules:0:Topic"] = "secret/#",
    });

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Theory]
    [InlineData(MqttProtocolVersion.V311, MqttQoS.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V311, MqttQoS.ExactlyOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQoS.ExactlyOnce)]
    public async Task A_delivered_publish_prints_Success(MqttProtocolVersion version, MqttQoS qos)
    {
        await using var c = await TestClient.ConnectAsync(Uri, o => o.ProtocolVersion = version);

        var result = await c.Client.PublishAsync("a/b", "x", qos).WaitAsync(EventLog.Timeout);

        Assert.Equal($"PublishResult {{ MessageId = {result.MessageId}, ReasonCode = Success }}", result.ToString());
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, "UnspecifiedError")]
    [InlineData(MqttProtocolVersion.V500, "NotAuthorized")]
    public async Task A_subscribe_result_prints_each_filter_with_the_SUBACK_meaning(MqttProtocolVersion version, string refusal)
    {
        await using var c = await TestClient.ConnectAsync(Uri, o => o.ProtocolVersion = version);

        var result = await c.Client.SubscribeAsync([("a/b", MqttQoS.AtLeastOnce), ("c", MqttQoS.AtMostOnce), ("secret/#", MqttQoS.ExactlyOnce)])
            .WaitAsync(EventLog.Timeout);

        Assert.Equal($"SubscribeResult {{ MessageId = {result.MessageId}, Items = [a/b: GrantedQoS1, c: GrantedQoS0, secret/#: {refusal}] }}", result.ToString());
        Assert.Equal([MqttQoS.AtLeastOnce, MqttQoS.AtMostOnce, null], result.Items.Select(i => i.GrantedQoS));
        Assert.False(result.IsSuccess);
    }

    [Fact]
    public async Task An_unsubscribe_result_prints_the_UNSUBACK_meaning_per_filter()
    {
        await using var c = await TestClient.ConnectAsync(Uri, o => o.ProtocolVersion = MqttProtocolVersion.V500);
        await c.SubscribeAsync("a/b", MqttQoS.AtLeastOnce);

        var result = await c.Client.UnsubscribeAsync(["a/b", "never/subscribed"]).WaitAsync(EventLog.Timeout);

        Assert.Equal($"UnsubscribeResult {{ MessageId = {result.MessageId}, Items = [a/b: Success, never/subscribed: NoSubscriptionExisted] }}", result.ToString());
        Assert.True(result.IsSuccess);
    }

    [Fact]
    public void Codes_without_a_name_print_as_hex()
    {
        Assert.Equal("t: 0x42", new SubscribeResultItem("t", (SubscribeReasonCode)0x42).ToString());
        Assert.Equal("PublishResult { MessageId = 9, ReasonCode = 0x42 }", new PublishResult(9, (ReasonCode)0x42).ToString());
        Assert.Equal(
            "PublishResult { MessageId = 9, ReasonCode = NotAuthorized, ReasonString = \"no\" }",
            new PublishResult(9, ReasonCode.NotAuthorized, "no").ToString());
    }
}
