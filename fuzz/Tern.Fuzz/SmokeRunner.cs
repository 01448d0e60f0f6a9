using System.Diagnostics;

namespace Tern.Fuzz;

/// <summary>The outcome of a smoke run: how many inputs ran, and the first crash of each target.</summary>
public sealed record SmokeResult(int Seed, long DecoderRuns, long BrokerRuns, IReadOnlyList<(string Target, byte[] Input, Exception Error)> Crashes);

/// <summary>
/// Replay + mutate, in process, without coverage feedback: replays the seed corpus through both
/// targets, then runs random mutations of it until the time budget is spent. Reliable and fast
/// to start; the coverage-guided run is AFL++ (fuzz/run.sh).
/// </summary>
public static class SmokeRunner
{
    public static async Task<SmokeResult> RunAsync(IReadOnlyList<byte[]> corpus, TimeSpan budget, int seed, Action<string>? log = null)
    {
        var crashes = new List<(string, byte[], Exception)>();
        long decoderRuns = 0;
        long brokerRuns = 0;
        var clock = Stopwatch.StartNew();

        void Decode(byte[] input)
        {
            decoderRuns++;
            try
            {
                DecoderTarget.Run(input);
            }
            catch (Exception ex)
            {
                Record("decoder", input, ex);
            }
        }

        async Task Broker(byte[] input)
        {
            brokerRuns++;
            try
            {
                await BrokerTarget.RunAsync(input).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Record("broker", input, ex);
            }
        }

        void Record(string target, byte[] input, Exception ex)
        {
            // Keep one input per target and message, so a bug hit a thousand times reports once.
            if (crashes.Count < 20 && !crashes.Any(c => c.Item1 == target && c.Item3.Message == ex.Message))
            {
                crashes.Add((target, input, ex));
                log?.Invoke($"CRASH in {target}: {ex.Message}\n  input: {DecoderTarget.Hex(input)}\n{ex}");
            }
        }

        foreach (var input in corpus)
        {
            Decode(input);
            await Broker(input).ConfigureAwait(false);
        }

        var mutator = new Mutator(new Random(seed), corpus);
        var brokerBudget = budget / 2;
        while (clock.Elapsed < budget)
        {
            // Half the budget on each target: the decoder runs ~100x more inputs in it.
            var input = mutator.Next();
            if (clock.Elapsed < brokerBudget)
            {
                await Broker(input).ConfigureAwait(false);
            }
            else
            {
                for (var i = 0; i < 64; i++)
                {
                    Decode(i == 0 ? input : mutator.Next());
                }
            }
        }

        log?.Invoke($"smoke: seed {seed}, {clock.Elapsed.TotalSeconds:F0} s, decoder {decoderRuns} inputs, broker {brokerRuns} inputs, {crashes.Count} crashes");
        return new SmokeResult(seed, decoderRuns, brokerRuns, crashes);
    }

    /// <summary>Reads every file of <paramref name="directory"/> (the corpus, or AFL's queue).</summary>
    public static IReadOnlyList<byte[]> LoadCorpus(string directory) =>
        [.. Directory.GetFiles(directory).Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".md", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];
}
