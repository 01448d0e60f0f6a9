using System.Globalization;
using Tern.Protocol;
using Tern.TestKit;
using static Tern.Interop.Tests.Mosquitto.MosquittoClients;

namespace Tern.Interop.Tests.Mqtt5;

/// <summary>mosquitto_pub / mosquitto_sub / mosquitto_rr with <c>-V 5</c> and <c>-D</c> properties against Tern.</summary>
public sealed class Mosquitto5Tests
{
    private static ProcessRunner StartRr(TestBroker broker, params string[] args) =>
        ProcessRunner.Start(
            "/usr/bin/mosquitto_rr",
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(CultureInfo.InvariantCulture), .. args],
            ExternalTools.MosquittoClientsPackage,
            lineBuffered: true);

    [Fact]
    public async Task MosquittoPubUserProperties_ReachAV5SubscriberInOrder()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var subscriber = await broker.ConnectV5Async(TestIds.Client("sub5"));
        await subscriber.SubscribeV5GrantedAsync(topic);

        await PubAsync(broker, "-V", "5", "-q", "1", "-t", topic, "-m", "with props",
            "-D", "publish", "user-property", "k", "v",
            "-D", "publish", "user-property", "site", "lab-1",
            "-D", "publish", "user-property", "k", "v2");

        var received = await subscriber.ExpectPublishAsync(topic, "with props");
        Assert.Equal([new MqttUserProperty("k", "v"), new("site", "lab-1"), new("k", "v2")], received.Properties?.UserProperties);
    }

    [Fact]
    public async Task MosquittoPubToMosquittoSub_V5PropertiesPassThrough()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var sub = await StartSubscribedAsync(broker, "-V", "5", "-q", "1", "-t", topic, "-C", "1",
            "-F", "%t|%p|%P|%C|%R|%S",
            "-D", "subscribe", "subscription-identifier", "7");

        await PubAsync(broker, "-V", "5", "-q", "1", "-t", topic, "-m", "hello",
            "-D", "publish", "user-property", "k", "v",
            "-D", "publish", "content-type", "text/plain",
            "-D", "publish", "response-topic", "reply/here");

        await sub.WaitForLineAsync($"{topic}|hello|k:v|text/plain|reply/here|7");
        await ExpectCleanExitAsync(sub);
    }

    [Fact]
    public async Task MosquittoPubMessageExpiry_IsForwardedToMosquittoSub()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var sub = await StartSubscribedAsync(broker, "-V", "5", "-q", "1", "-t", topic, "-C", "1", "-F", "%p|%E");

        await PubAsync(broker, "-V", "5", "-q", "1", "-t", topic, "-m", "expiring", "-D", "publish", "message-expiry-interval", "120");

        var line = await sub.WaitForLineAsync(l => l.StartsWith("expiring|", StringComparison.Ordinal));
        Assert.True(line is "expiring|120" or "expiring|119", line);
    }

    [Fact]
    public async Task MosquittoSubSessionExpiry_QueuedMessageIsDeliveredOnReconnect()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        var id = TestIds.Client("msx");
        await using (var first = await StartSubscribedAsync(broker, "-V", "5", "-c", "-x", "60", "-i", id, "-q", "1", "-t", topic))
        {
            await first.KillAsync();
        }

        await PubAsync(broker, "-V", "5", "-q", "1", "-t", topic, "-m", "queued for you");

        await using var second = StartSub(broker, "-V", "5", "-c", "-x", "60", "-i", id, "-q", "1", "-t", topic, "-C", "1", "-v");
        await second.WaitForLineAsync($"{topic} queued for you");
        await ExpectCleanExitAsync(second);
    }

    [Fact]
    public async Task MosquittoRr_RequestResponseWithARawResponder()
    {
        await using var broker = await TestBroker.StartAsync();
        var requests = TestIds.Topic();
        var replies = TestIds.Topic();
        await using var responder = await broker.ConnectV5Async(TestIds.Client("resp"));
        await responder.SubscribeV5GrantedAsync(requests);

        await using var rr = StartRr(broker, "-t", requests, "-e", replies, "-m", "what time is it", "-q", "1", "-W", "10", "-D", "publish", "correlation-data", "req-1");
        var request = await responder.ExpectPublishAsync(requests, "what time is it");
        Assert.Equal(replies, request.Properties?.ResponseTopic);
        Assert.Equal("req-1"u8.ToArray(), request.Properties?.CorrelationData?.ToArray());
        await responder.PublishV5Async(replies, "noon", properties: new MqttProperties { CorrelationData = request.Properties!.CorrelationData });

        await rr.WaitForLineAsync("noon");
        var exit = await rr.WaitForExitAsync();
        Assert.True(exit == 0, $"`{rr.CommandLine}` exited with {exit}:{Environment.NewLine}{rr.Output}");
    }

    [Fact]
    public async Task MosquittoSubV5_ReceivesFromV311Publisher_AndV311SubReceivesFromV5Publisher()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var sub5 = await StartSubscribedAsync(broker, "-V", "5", "-q", "1", "-t", topic, "-C", "2", "-v");
        await using var sub311 = await StartSubscribedAsync(broker, "-V", "311", "-q", "1", "-t", topic, "-C", "2", "-v");

        await PubAsync(broker, "-V", "311", "-q", "1", "-t", topic, "-m", "from311");
        await PubAsync(broker, "-V", "5", "-q", "1", "-t", topic, "-m", "from5", "-D", "publish", "user-property", "dropped", "for-311");

        foreach (var sub in new[] { sub5, sub311 })
        {
            await sub.WaitForLineAsync($"{topic} from311");
            await sub.WaitForLineAsync($"{topic} from5");
            await ExpectCleanExitAsync(sub);
        }
    }
}
