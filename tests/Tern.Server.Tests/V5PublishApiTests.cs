using System.Net;
using System.Text;
using MQTTnet;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Server.Tests.V5Tests;
using MqttNetVersion = MQTTnet.Formatter.MqttProtocolVersion;

namespace Tern.Server.Tests;

/// <summary>EMQX's <c>POST /api/v5/publish</c> and <c>/publish/bulk</c>, delivered to real MQTT subscribers.</summary>
public sealed class V5PublishApiTests
{
    [Fact]
    public async Task Publish_to_a_subscriber_is_200_with_an_id_and_carries_the_mqtt5_properties()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var topic = TestIds.Topic();
        using var mqtt = new MqttClientFactory().CreateMqttClient();
        var received = new TaskCompletionSource<MqttApplicationMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        mqtt.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        await mqtt.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", dashboard.Broker.Port)
            .WithProtocolVersion(MqttNetVersion.V500)
            .WithClientId(TestIds.Client("v5sub"))
            .Build());
        await mqtt.SubscribeAsync(topic, MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);

        var (status, body) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/publish", $$$"""
            {"topic": "{{{topic}}}", "payload": "hello", "qos": 1, "retain": false,
             "properties": {"user_properties": {"site": "north"}, "content_type": "text/plain", "message_expiry_interval": 60,
                            "response_topic": "replies/1", "correlation_data": "req-7", "payload_format_indicator": 1}}
            """);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Matches("^[0-9A-F]{32}$", body!.Value.GetProperty("id").GetString());
        var message = await received.Task.WaitAsync(TestTimeouts.Close);
        Assert.Equal("hello", message.ConvertPayloadToString());
        Assert.Equal(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce, message.QualityOfServiceLevel);
        Assert.Equal("text/plain", message.ContentType);
        Assert.Equal("replies/1", message.ResponseTopic);
        Assert.Equal("req-7", Encoding.UTF8.GetString(message.CorrelationData));
        Assert.Equal(MQTTnet.Protocol.MqttPayloadFormatIndicator.CharacterData, message.PayloadFormatIndicator);
        Assert.InRange(message.MessageExpiryInterval, 1u, 60u);
        var property = Assert.Single(message.UserProperties);
        Assert.Equal(("site", "north"), (property.Name, Encoding.UTF8.GetString(property.ValueBuffer.ToArray())));
    }

    [Fact]
    public async Task Publish_nobody_subscribed_to_is_202_with_reason_code_16()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        var (status, body) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/publish", """{"topic": "nobody/listens", "payload": "x"}""");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(16, body!.Value.GetProperty("reason_code").GetInt32());
        Assert.Equal("no_matching_subscribers", body.Value.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Publish_base64_payload_arrives_as_those_bytes()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await dashboard.Broker.ConnectAsync(TestIds.Client("b64"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);

        var (status, _) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/publish", $$"""{"topic": "{{topic}}", "payload": "AAEC/w==", "payload_encoding": "base64"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var publish = await subscriber.ReceivePublishAsync();
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, publish.Payload.ToArray());
    }

    [Fact]
    public async Task Bulk_publishes_each_in_order_and_is_202_when_one_matched_nobody()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await dashboard.Broker.ConnectAsync(TestIds.Client("bulk"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);

        var (allStatus, all) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/publish/bulk", $$"""
            [{"topic": "{{topic}}", "payload": "one"}, {"topic": "{{topic}}", "payload": "two"}]
            """);
        var (someStatus, some) = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/publish/bulk", $$"""
            [{"topic": "{{topic}}", "payload": "three"}, {"topic": "nobody/listens", "payload": "four"}]
            """);

        Assert.Equal(HttpStatusCode.OK, allStatus);
        Assert.All(all!.Value.EnumerateArray(), static r => Assert.Matches("^[0-9A-F]{32}$", r.GetProperty("id").GetString()));
        Assert.Equal(HttpStatusCode.Accepted, someStatus);
        var results = some!.Value.EnumerateArray().ToArray();
        Assert.Equal(2, results.Length);
        Assert.True(results[0].TryGetProperty("id", out _));
        Assert.Equal(16, results[1].GetProperty("reason_code").GetInt32());
        foreach (var expected in new[] { "one", "two", "three" })
        {
            Assert.Equal(expected, (await subscriber.ReceivePublishAsync()).PayloadText());
        }
    }

    [Fact]
    public async Task Bulk_with_one_bad_message_is_400_naming_it_and_publishes_none()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await dashboard.Broker.ConnectAsync(TestIds.Client("bulkbad"));
        await subscriber.SubscribeGrantedAsync(topic, MqttQoS.AtMostOnce);

        var response = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/publish/bulk", $$"""
            [{"topic": "{{topic}}", "payload": "ok"}, {"topic": "{{topic}}", "payload": "x", "qos": 7}]
            """);

        AssertError(response, HttpStatusCode.BadRequest, "BAD_REQUEST", "[1].qos must be");
        Assert.Equal("[1].qos", response.Body!.Value.GetProperty("field").GetString());
        await subscriber.ExpectNoPacketAsync();
        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/publish/bulk", "[]"), HttpStatusCode.BadRequest, "BAD_REQUEST", "non-empty JSON array");
    }

    [Theory]
    [InlineData("""{"payload": "x"}""", "topic")]
    [InlineData("""{"topic": "a", "qos": 3, "payload": "x"}""", "qos")]
    [InlineData("""{"topic": "a", "retain": "yes", "payload": "x"}""", "retain")]
    [InlineData("""{"topic": "a"}""", "payload")]
    [InlineData("""{"topic": "a", "payload": "x", "payload_encoding": "hex"}""", "payload_encoding")]
    [InlineData("""{"topic": "a", "payload": "***", "payload_encoding": "base64"}""", "payload")]
    [InlineData("""{"topic": "a", "payload": "x", "colour": "red"}""", "colour")]
    [InlineData("""{"topic": "a", "payload": "x", "properties": {"message_expiry_interval": -1}}""", "properties.message_expiry_interval")]
    [InlineData("""{"topic": "a", "payload": "x", "properties": {"user_properties": {"k": 1}}}""", "properties.user_properties.k")]
    [InlineData("""{"topic": "a", "payload": "x", "properties": {"response_topic": "r/#"}}""", "properties.response_topic")]
    [InlineData("""{"topic": "a", "payload": "x", "properties": {"payload_format_indicator": 2}}""", "properties.payload_format_indicator")]
    [InlineData("""{"topic": "a", "payload": "x", "properties": {"shape": "round"}}""", "properties.shape")]
    [InlineData("""{"topic": "a", "payload": "x" """, "not valid JSON")]
    public async Task Bad_publish_is_400_bad_request_naming_the_field(string body, string field)
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        AssertError(await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/publish", body), HttpStatusCode.BadRequest, "BAD_REQUEST", field);
    }

    [Fact]
    public async Task Publish_to_a_filter_is_400_with_reason_code_144_topic_name_invalid()
    {
        await using var dashboard = await DashboardBroker.StartAsync();

        var response = await SendAsync(dashboard.Http, HttpMethod.Post, "api/v5/publish", """{"topic": "sensors/#", "payload": "x"}""");

        AssertError(response, HttpStatusCode.BadRequest, "BAD_REQUEST", "topic");
        Assert.Equal(144, response.Body!.Value.GetProperty("reason_code").GetInt32());
    }

    [Fact]
    public async Task Publish_needs_json_and_credentials()
    {
        await using var dashboard = await DashboardBroker.StartAsync();
        using var anonymous = dashboard.CreateClient(null, null);

        using var form = await dashboard.Http.PostAsync("api/v5/publish", new StringContent("""{"topic": "a", "payload": "x"}""", Encoding.UTF8, "text/plain"));
        var unauthorized = await SendAsync(anonymous, HttpMethod.Post, "api/v5/publish", """{"topic": "a", "payload": "x"}""");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);
        Assert.Contains("UNSUPPORTED_MEDIA_TYPE", await form.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        AssertError(unauthorized, HttpStatusCode.Unauthorized, "BAD_USERNAME_OR_PWD", "Authentication required");
    }
}
