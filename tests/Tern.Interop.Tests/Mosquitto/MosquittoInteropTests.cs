using Tern.Protocol;
using Tern.TestKit;
using static Tern.Interop.Tests.Mosquitto.MosquittoClients;

namespace Tern.Interop.Tests.Mosquitto;

/// <summary>mosquitto_pub / mosquitto_sub against Tern.</summary>
public sealed class MosquittoInteropTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("2")]
    public async Task PubToSub_AtEveryQos(string qos)
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var sub = await StartSubscribedAsync(broker, "-t", topic, "-q", qos, "-C", "1", "-v");

        await PubAsync(broker, "-t", topic, "-m", $"hello q{qos}", "-q", qos);

        await sub.WaitForLineAsync($"{topic} hello q{qos}");
        await ExpectCleanExitAsync(sub);
    }

    [Theory]
    [InlineData("31")]
    [InlineData("311")]
    public async Task PubToSub_WithProtocolVersion(string version)
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await using var sub = await StartSubscribedAsync(broker, "-V", version, "-t", topic, "-q", "2", "-C", "1", "-v");

        await PubAsync(broker, "-V", version, "-t", topic, "-m", $"over {version}", "-q", "2");

        await sub.WaitForLineAsync($"{topic} over {version}");
        await ExpectCleanExitAsync(sub);
    }

    [Fact]
    public async Task Retained_IsDeliveredToLaterSubscriberAndClearedByEmptyRetainedPublish()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await PubAsync(broker, "-t", topic, "-m", "kept", "-q", "1", "-r");

        await using (var sub = StartSub(broker, "-t", topic, "-C", "1", "-v"))
        {
            await sub.WaitForLineAsync($"{topic} kept");
            await ExpectCleanExitAsync(sub);
        }

        await PubAsync(broker, "-t", topic, "-n", "-r", "-q", "1");

        await using var check = await broker.ConnectAsync(TestIds.Client("check"));
        await check.SubscribeGrantedAsync(topic, MqttQoS.AtLeastOnce);
        await check.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task Retained_FlagIsShownByMosquittoSub()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        await PubAsync(broker, "-t", topic, "-m", "flagged", "-r", "-q", "1"); // QoS 1: stored before mosquitto_pub exits

        // With -d, mosquitto_sub logs "received PUBLISH (d0, q0, r1, m0, 'topic', ...)".
        await using var sub = StartSub(broker, "-t", topic, "-C", "1");
        var line = await sub.WaitForLineAsync(l => l.Contains("received PUBLISH", StringComparison.Ordinal));
        Assert.Contains("r1", line, StringComparison.Ordinal);
        await ExpectCleanExitAsync(sub);
    }

    [Fact]
    public async Task Will_IsPublishedWhenMosquittoSubIsKilled()
    {
        await using var broker = await TestBroker.StartAsync();
        var willTopic = TestIds.Topic("will");
        await using var observer = await StartSubscribedAsync(broker, "-t", willTopic, "-q", "1", "-C", "1", "-v");
        await using var victim = await StartSubscribedAsync(broker, "-t", TestIds.Topic("idle"), "--will-topic", willTopic, "--will-payload", "victim died", "--will-qos", "1");

        await victim.KillAsync(); // SIGKILL: no DISCONNECT

        await observer.WaitForLineAsync($"{willTopic} victim died");
        await ExpectCleanExitAsync(observer);
    }

    [Fact]
    public async Task Will_IsNotPublishedWhenMosquittoSubDisconnectsCleanly()
    {
        await using var broker = await TestBroker.StartAsync();
        var willTopic = TestIds.Topic("will");
        var topic = TestIds.Topic();
        await using var observer = await broker.ConnectAsync(TestIds.Client("obs"));
        await observer.SubscribeGrantedAsync(willTopic, MqttQoS.AtLeastOnce);
        await using (var polite = await StartSubscribedAsync(broker, "-t", topic, "-C", "1", "--will-topic", willTopic, "--will-payload", "must not appear"))
        {
            await PubAsync(broker, "-t", topic, "-m", "bye");
            await ExpectCleanExitAsync(polite); // -C 1: receives one message, sends DISCONNECT, exits
        }

        await observer.ExpectNoPacketAsync();
    }

    [Fact]
    public async Task PersistentSession_ReceivesMessageQueuedWhileOffline()
    {
        await using var broker = await TestBroker.StartAsync();
        var topic = TestIds.Topic();
        var id = TestIds.Client("mosq");
        await using (var first = await StartSubscribedAsync(broker, "-c", "-i", id, "-q", "1", "-t", topic))
        {
            await first.KillAsync();
        }

        await PubAsync(broker, "-t", topic, "-m", "queued while offline", "-q", "1");

        await using var second = StartSub(broker, "-c", "-i", id, "-q", "1", "-t", topic, "-C", "1", "-v");
        await second.WaitForLineAsync($"{topic} queued while offline");
        await ExpectCleanExitAsync(second);
    }

    [Fact]
    public async Task Wildcards_SubscriberWithHashReceivesPublishesOnSubtopics()
    {
        await using var broker = await TestBroker.StartAsync();
        var root = TestIds.Topic();
        await using var sub = await StartSubscribedAsync(broker, "-t", $"{root}/#", "-q", "1", "-C", "2", "-v");

        await PubAsync(broker, "-t", $"{root}/a", "-m", "A", "-q", "1");
        await PubAsync(broker, "-t", $"{root}/b/c", "-m", "BC", "-q", "1");

        await sub.WaitForLineAsync($"{root}/a A");
        await sub.WaitForLineAsync($"{root}/b/c BC");
        await ExpectCleanExitAsync(sub);
    }
}
