using System.Buffers;
using System.Globalization;
using System.Text;
using Tern.Protocol;
using Xunit.Abstractions;

namespace Tern.Fuzz.Tests;

/// <summary>
/// The short fuzz run of the test command: the committed seed corpus (fuzz/corpus) replayed through
/// both targets, then random mutations of it for a fixed time budget (TERN_FUZZ_SMOKE_SECONDS,
/// default 20; TERN_FUZZ_SEED repeats a run). The coverage-guided run is AFL++: fuzz/run.sh.
/// </summary>
public sealed class FuzzSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FuzzSmoke()
    {
        var seconds = double.Parse(Environment.GetEnvironmentVariable("TERN_FUZZ_SMOKE_SECONDS") ?? "20", CultureInfo.InvariantCulture);
        var seed = int.TryParse(Environment.GetEnvironmentVariable("TERN_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Environment.TickCount;
        var corpus = SmokeRunner.LoadCorpus(CorpusDirectory());

        // dotnet test runs the test projects side by side on a small machine: a hang is 5 s here, not 2.
        BrokerTarget.HangTimeout = TimeSpan.FromSeconds(5);
        Assert.NotEmpty(corpus);

        var result = await SmokeRunner.RunAsync(corpus, TimeSpan.FromSeconds(seconds), seed, output.WriteLine);

        Assert.True(result.DecoderRuns > corpus.Count && result.BrokerRuns > corpus.Count, "the smoke run must get past the corpus");
        var report = new StringBuilder($"fuzz smoke run (TERN_FUZZ_SEED={seed}) found {result.Crashes.Count} crashes:\n");
        foreach (var (target, input, error) in result.Crashes)
        {
            report.Append(CultureInfo.InvariantCulture, $"\n{target}: input {Convert.ToHexString(input)}\n{error}\n");
        }

        Assert.True(result.Crashes.Count == 0, report.ToString());
    }

    /// <summary>Every seed is valid MQTT: all its bytes decode, in its version, as whole packets.</summary>
    [Fact]
    public void SeedCorpusIsValidMqtt()
    {
        var files = Directory.GetFiles(CorpusDirectory(), "*.bin");
        Assert.True(files.Length >= 70, $"fuzz/corpus has {files.Length} seeds");
        foreach (var file in files.Where(f => !f.EndsWith("remaining-length-5-bytes.bin", StringComparison.Ordinal)))
        {
            var bytes = File.ReadAllBytes(file);
            var version = FuzzInput.Version(bytes[0]);
            var buffer = new ReadOnlySequence<byte>(bytes.AsMemory(1));
            var count = 0;
            while (MqttDecoder.TryRead(ref buffer, version, int.MaxValue, out var packet))
            {
                Assert.NotNull(packet);
                count++;
            }

            Assert.True(count > 0 && buffer.IsEmpty, $"{Path.GetFileName(file)} is not whole MQTT {version} packets");
        }
    }

    /// <summary>The committed corpus has every seed the generator makes (run 'Tern.Fuzz corpus fuzz/corpus' after adding one).</summary>
    [Fact]
    public void SeedCorpusIsComplete()
    {
        var committed = Directory.GetFiles(CorpusDirectory(), "*.bin").Select(Path.GetFileNameWithoutExtension).ToHashSet(StringComparer.Ordinal);
        var missing = SeedCorpus.Generate().Select(s => s.Name).Where(n => !committed.Contains(n)).ToList();
        Assert.True(missing.Count == 0, "missing from fuzz/corpus: " + string.Join(", ", missing));
    }

    private static string CorpusDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var corpus = Path.Combine(dir.FullName, "fuzz", "corpus");
            if (File.Exists(Path.Combine(dir.FullName, "Tern.slnx")) && Directory.Exists(corpus))
            {
                return corpus;
            }
        }

        throw new DirectoryNotFoundException("fuzz/corpus not found above " + AppContext.BaseDirectory);
    }
}
