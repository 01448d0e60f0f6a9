using SharpFuzz;
using Tern.Fuzz;

// Tern.Fuzz: the fuzz targets and their drivers. See docs/fuzzing.md.
const string Usage = """
    usage: Tern.Fuzz <command>
      afl <decoder|broker>                  run under afl-fuzz (fuzz/run.sh instruments the assemblies first)
      libfuzzer <decoder|broker>            run under libfuzzer-dotnet
      replay <decoder|broker|both> <file|dir>...   run inputs once, print each crash with its stack
      corpus <dir>                          write the seed corpus
      smoke <seconds> [seed] [corpus-dir]   in-process replay + random mutation of the corpus
    """;

if (args.Length < 1)
{
    Console.Error.WriteLine(Usage);
    return 2;
}

static Action<byte[]> Target(string name) => name switch
{
    "decoder" => input => DecoderTarget.Run(input),
    "broker" => input => BrokerTarget.Run(input),
    _ => throw new ArgumentException($"unknown target '{name}' (decoder or broker)"),
};

switch (args[0])
{
    case "afl" when args.Length == 2:
    {
        var target = Target(args[1]);
        Fuzzer.Run(stream =>
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            target(memory.ToArray());
        });
        return 0;
    }

    case "libfuzzer" when args.Length == 2:
    {
        var target = Target(args[1]);
        Fuzzer.LibFuzzer.Run(span => target(span.ToArray()));
        return 0;
    }

    case "replay" when args.Length >= 3:
    {
        var targets = args[1] == "both" ? ["decoder", "broker"] : new[] { args[1] };
        var files = args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p])
            .Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".md", StringComparison.Ordinal) && !f.EndsWith(".txt", StringComparison.Ordinal));
        var crashes = 0;
        var count = 0;
        foreach (var file in files)
        {
            var input = File.ReadAllBytes(file);
            count++;
            foreach (var name in targets)
            {
                try
                {
                    if (name == "broker" && Environment.GetEnvironmentVariable("TERN_FUZZ_VERBOSE") == "1")
                    {
                        Console.WriteLine($"{Path.GetFileName(file)} -> {DecoderTarget.Hex(BrokerTarget.RunAsync(input).GetAwaiter().GetResult())}");
                    }
                    else
                    {
                        Target(name)(input);
                    }
                }
                catch (Exception ex)
                {
                    crashes++;
                    Console.WriteLine($"CRASH {name} {file}\n  input: {DecoderTarget.Hex(input)}\n{ex}\n");
                }
            }
        }

        Console.WriteLine($"replayed {count} inputs through {string.Join(" and ", targets)}: {crashes} crashes");
        return crashes == 0 ? 0 : 1;
    }

    case "corpus" when args.Length == 2:
        Console.WriteLine($"wrote {SeedCorpus.Write(args[1])} seeds to {args[1]}");
        return 0;

    case "smoke" when args.Length >= 2:
    {
        var seconds = double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
        var seed = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : Environment.TickCount;
        var corpus = args.Length > 3 ? SmokeRunner.LoadCorpus(args[3]) : [.. SeedCorpus.Generate().Select(s => s.Bytes)];
        var result = await SmokeRunner.RunAsync(corpus, TimeSpan.FromSeconds(seconds), seed, Console.WriteLine);
        return result.Crashes.Count == 0 ? 0 : 1;
    }

    default:
        Console.Error.WriteLine(Usage);
        return 2;
}
