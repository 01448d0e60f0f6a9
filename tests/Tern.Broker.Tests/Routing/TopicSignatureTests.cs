using Tern.Broker;
using Tern.Protocol;

namespace Tern.Broker.Tests.Routing;

/// <summary>The signature only rules topics out: it may say "may match" wrongly, never "cannot".</summary>
public sealed class TopicSignatureTests
{
    [Theory]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/c", false)]
    [InlineData("a/+", "a/b/c", false)]
    [InlineData("a/#", "a", true)]
    [InlineData("a/b/#", "a", false)]
    [InlineData("#", "$SYS/x", false)]
    [InlineData("+/x", "$SYS/x", false)]
    [InlineData("$SYS/#", "$SYS/x", true)]
    [InlineData("+/+/+/+/e", "a/b/c/d/e", true)]
    [InlineData("+/+/+/+/e", "a/b/c/d/f", true)] // the fifth level is not in the signature
    [InlineData("a//b", "a//b", true)]
    [InlineData("a//b", "a/x/b", false)]
    public void Rules_out_what_it_can_see(string filter, string topic, bool mayMatch)
    {
        Assert.Equal(mayMatch, new TopicSignature.Filter(filter).MayMatch(TopicSignature.Of(topic)));
    }

    [Fact]
    public void Never_rules_out_a_topic_the_filter_matches()
    {
        var seed = Random.Shared.Next();
        var random = new Random(seed);
        string[] levels = ["a", "b", "", "$SYS", "long-level-name", "+", "#"];
        var ruledOut = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var topic = string.Join('/', Enumerable.Range(0, random.Next(1, 7)).Select(_ => levels[random.Next(5)]));
            var filterLevels = Enumerable.Range(0, random.Next(1, 7)).Select(_ => levels[random.Next(6)]).ToList();
            if (random.Next(3) == 0)
            {
                filterLevels.Add("#");
            }

            var filter = string.Join('/', filterLevels);
            if (topic.Length == 0 || !MqttTopic.IsValidTopicName(topic) || !MqttTopic.IsValidTopicFilter(filter))
            {
                continue;
            }

            var may = new TopicSignature.Filter(filter).MayMatch(TopicSignature.Of(topic));
            if (!may && MqttTopic.Matches(filter, topic))
            {
                Assert.Fail($"seed {seed}: '{filter}' matches '{topic}' but its signature says it cannot");
            }

            ruledOut += may ? 0 : 1;
        }

        if (ruledOut <= 5_000)
        {
            Assert.Fail($"seed {seed}: only {ruledOut} ruled out");
        }
    }

    [Fact]
    public void Topic_hashes_spread_and_are_stable()
    {
        var hashes = Enumerable.Range(0, 10_000).Select(i => TopicSignature.Hash($"site/{i}/dev/temp")).ToArray();

        Assert.Equal(TopicSignature.Hash("site/1/dev/temp"), hashes[1]);
        Assert.True(hashes.Distinct().Count() > 9_990);
        Assert.True(hashes.Select(h => h & 2047).Distinct().Count() > 1_900, "low bits pick the cache set");
    }
}
