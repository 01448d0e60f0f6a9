using Tern.Protocol;
using Tern.TestKit;
using static Tern.Broker.Tests.Mqtt5.Mqtt5Test;

namespace Tern.Broker.Tests.Mqtt5;

/// <summary>MQTT 5.0 CONNACK properties (spec 3.2.2.3) and the broker settings behind them.</summary>
public sealed class ConnAckPropertiesTests
{
    [Fact]
    public async Task Defaults_AnnounceReceiveMaximumPacketSizeAndTopicAliasMaximum_AndOmitFeatureFlags()
    {
        await using var broker = await StartAsync();
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client());
        await using var _ = client;

        Assert.True(connAck.ReasonCode == 0, Describe(connAck));
        var p = connAck.Properties;
        Assert.NotNull(p);
        Assert.Equal((ushort)1024, p.ReceiveMaximum);
        Assert.Equal(1024u * 1024u, p.MaximumPacketSize);
        Assert.Equal((ushort)10, p.TopicAliasMaximum);
        Assert.Null(p.MaximumQoS);
        Assert.Null(p.RetainAvailable);
        Assert.Null(p.WildcardSubscriptionAvailable);
        Assert.Null(p.SubscriptionIdentifierAvailable);
        Assert.Null(p.SharedSubscriptionAvailable);
        Assert.Null(p.ServerKeepAlive);
        Assert.Null(p.AssignedClientIdentifier);
        Assert.Null(p.ResponseInformation);
    }

    [Fact]
    public async Task ConfiguredLimits_AreAnnounced()
    {
        await using var broker = await StartAsync(("Broker:ReceiveMaximum", "7"), ("Broker:MaxPacketSize", "4096"), ("Broker:TopicAliasMaximum", "3"));
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client());
        await using var _ = client;

        Assert.Equal((ushort)7, connAck.Properties?.ReceiveMaximum);
        Assert.Equal(4096u, connAck.Properties?.MaximumPacketSize);
        Assert.Equal((ushort)3, connAck.Properties?.TopicAliasMaximum);
    }

    [Fact]
    public async Task TopicAliasMaximumZero_IsOmitted()
    {
        await using var broker = await StartAsync(("Broker:TopicAliasMaximum", "0"));
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client());
        await using var _ = client;

        Assert.True(connAck.ReasonCode == 0, Describe(connAck));
        Assert.Null(connAck.Properties?.TopicAliasMaximum);
    }

    [Fact]
    public async Task EmptyClientId_GetsAssignedClientIdentifier_ThatIsUsable()
    {
        await using var broker = await StartAsync();
        var (client, connAck) = await broker.OpenV5Async("");
        await using var _ = client;

        Assert.True(connAck.ReasonCode == 0, Describe(connAck));
        var assigned = connAck.Properties?.AssignedClientIdentifier;
        Assert.False(string.IsNullOrEmpty(assigned), Describe(connAck));

        var topic = TestIds.Topic();
        await client.SubscribeV5GrantedAsync(topic);
        await client.PublishV5Async(topic, "self");
        await client.ExpectPublishAsync(topic, "self");

        var (second, secondAck) = await broker.OpenV5Async("");
        await using var __ = second;
        Assert.NotEqual(assigned, secondAck.Properties?.AssignedClientIdentifier);
    }

    [Fact]
    public async Task EmptyClientIdWithCleanStart0_GetsAssignedIdentifier()
    {
        await using var broker = await StartAsync();
        var (client, connAck) = await broker.OpenV5Async("", new MqttProperties { SessionExpiryInterval = 10 }, cleanStart: false);
        await using var _ = client;

        Assert.True(connAck.ReasonCode == 0, Describe(connAck));
        Assert.False(string.IsNullOrEmpty(connAck.Properties?.AssignedClientIdentifier), Describe(connAck));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task MaximumQoSBelow2_IsAnnounced(int maximumQoS)
    {
        await using var broker = await StartAsync(("Broker:MaximumQoS", maximumQoS.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client());
        await using var _ = client;

        Assert.Equal((byte)maximumQoS, connAck.Properties?.MaximumQoS);
    }

    [Theory]
    [InlineData("Broker:RetainAvailable")]
    [InlineData("Broker:WildcardSubscriptionAvailable")]
    [InlineData("Broker:SubscriptionIdentifiersAvailable")]
    [InlineData("Broker:SharedSubscriptionAvailable")]
    public async Task FeatureTurnedOff_IsAnnouncedAsZero(string key)
    {
        await using var broker = await StartAsync((key, "false"));
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client());
        await using var _ = client;

        var p = connAck.Properties;
        Assert.NotNull(p);
        byte? value = key switch
        {
            "Broker:RetainAvailable" => p.RetainAvailable,
            "Broker:WildcardSubscriptionAvailable" => p.WildcardSubscriptionAvailable,
            "Broker:SubscriptionIdentifiersAvailable" => p.SubscriptionIdentifierAvailable,
            _ => p.SharedSubscriptionAvailable,
        };
        Assert.True(value == 0, $"{key}=false must be announced as 0: {Describe(connAck)}");
    }

    [Fact]
    public async Task ServerKeepAlive_IsAnnouncedAndEnforcedWith8DAfterOneAndAHalfTimesIt()
    {
        await using var broker = await StartAsync(("Broker:ServerKeepAlive", "1"));
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client(), keepAlive: 600);
        await using var _ = client;

        Assert.Equal((ushort)1, connAck.Properties?.ServerKeepAlive);
        var started = DateTime.UtcNow;
        var disconnect = await client.ExpectDisconnectAsync(ReasonCode.KeepAliveTimeout);
        var elapsed = DateTime.UtcNow - started;
        Assert.True(elapsed >= TimeSpan.FromSeconds(1.2), $"closed after {elapsed.TotalSeconds:0.00} s, before 1.5 x server keep alive 1 s");
        AssertHasReasonString(disconnect, client);
    }

    [Fact]
    public async Task ServerKeepAlive_IsAMaximum_AClientAskingForLessKeepsItsOwn()
    {
        await using var broker = await StartAsync(("Broker:ServerKeepAlive", "60"));
        var (shorter, shorterAck) = await broker.OpenV5Async(TestIds.Client("short"), keepAlive: 5);
        await using var _ = shorter;
        var (off, offAck) = await broker.OpenV5Async(TestIds.Client("off"), keepAlive: 0);
        await using var __ = off;

        Assert.Null(shorterAck.Properties?.ServerKeepAlive);
        Assert.Equal((ushort)60, offAck.Properties?.ServerKeepAlive);
    }

    [Fact]
    public async Task ResponseInformation_IsReturnedOnlyWhenRequested_WithClientIdSubstituted()
    {
        await using var broker = await StartAsync();
        var id = TestIds.Client("ri");
        var (client, connAck) = await broker.OpenV5Async(id, new MqttProperties { RequestResponseInformation = 1 });
        await using var _ = client;
        Assert.Equal($"response/{id}", connAck.Properties?.ResponseInformation);

        var (other, otherAck) = await broker.OpenV5Async(TestIds.Client("nori"));
        await using var __ = other;
        Assert.Null(otherAck.Properties?.ResponseInformation);

        var (zero, zeroAck) = await broker.OpenV5Async(TestIds.Client("ri0"), new MqttProperties { RequestResponseInformation = 0 });
        await using var ___ = zero;
        Assert.Null(zeroAck.Properties?.ResponseInformation);
    }

    [Fact]
    public async Task ResponseInformation_UsesConfiguredTemplate()
    {
        await using var broker = await StartAsync(("Broker:ResponseInformation", "replies/{clientid}/in"));
        var id = TestIds.Client("ri");
        var (client, connAck) = await broker.OpenV5Async(id, new MqttProperties { RequestResponseInformation = 1 });
        await using var _ = client;

        Assert.Equal($"replies/{id}/in", connAck.Properties?.ResponseInformation);
    }

    [Theory]
    [InlineData("UseAnotherServer", ReasonCode.UseAnotherServer)]
    [InlineData("ServerMoved", ReasonCode.ServerMoved)]
    public async Task Redirect_RefusesWithServerReference(string redirect, ReasonCode expected)
    {
        await using var broker = await StartAsync(("Broker:Redirect", redirect), ("Broker:ServerReference", "other-host:1884"));
        var (client, connAck) = await broker.OpenV5Async(TestIds.Client());
        await using var _ = client;

        Assert.True(connAck.ReasonCode == (byte)expected, Describe(connAck));
        Assert.Equal("other-host:1884", connAck.Properties?.ServerReference);
        Assert.True(await client.WaitForCloseAsync(), client.Transcript);
    }
}
