using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Globalization;
using Tern.Cli.Bench;
using Tern.Protocol;

namespace Tern.Cli.Commands;

/// <remarks>
/// Flags shared with <c>tern pub</c>/<c>tern sub</c> (mosquitto's) mean the same here: <c>-h</c> host,
/// <c>-p</c> port, <c>-t</c> topic, <c>-q</c> QoS, <c>-u</c>/<c>-P</c> credentials, <c>-i</c> client id
/// (a prefix here), <c>-c</c> persistent sessions, <c>-W</c> how long to run. Bench-only settings use
/// letters pub/sub leave free (<c>-N</c>, <c>-M</c>, <c>-S</c>, <c>-T</c>, <c>-F</c>) or long names.
/// </remarks>
internal static partial class BenchCommand
{
    private static Option<int> CountOption(string description, int defaultValue) =>
        new("--count", "-N") { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "count", Validators = { Positive } };

    private static Option<string> TopicOption(string description, string defaultValue) =>
        new("--topic", "-t") { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "topic" };

    private static Option<MqttQoS> QoSOption(string description) =>
        new("--qos", "-q") { Description = description, HelpName = "0|1|2", CustomParser = a => ParseQoS(a) ?? MqttQoS.AtMostOnce };

    private static Option<double?> DurationOption(string description) =>
        new("--duration", "-W") { Description = description, HelpName = "seconds" };

    private static void Positive(OptionResult result)
    {
        if (result.GetValueOrDefault<int>() <= 0)
        {
            result.AddError($"{result.IdentifierToken?.Value ?? "--count"} must be a positive number.");
        }
    }

    private static void NotNegative(OptionResult result)
    {
        double? value = result.GetValueOrDefault<object>() switch
        {
            double d => d,
            int i => i,
            _ => null,
        };
        if (value is { } v && !(v >= 0))
        {
            result.AddError($"{result.IdentifierToken?.Value} must be 0 or more.");
        }
    }

    private static void PacketIdRange(OptionResult result)
    {
        if (result.GetValueOrDefault<int>() is <= 0 or > ushort.MaxValue)
        {
            result.AddError($"{result.IdentifierToken?.Value ?? "--inflight"} must be 1 to 65,535 (MQTT packet ids).");
        }
    }

    private static MqttQoS? ParseQoS(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (text is "0" or "1" or "2")
        {
            return (MqttQoS)(text[0] - '0');
        }

        result.AddError($"QoS must be 0, 1 or 2, not '{text}'.");
        return null;
    }

    /// <summary>Options every bench command has: where the broker is, credentials, output form, client ids.</summary>
    private sealed class CommonOptions
    {
        public Option<string> Host { get; } = new("--host", "-h") { Description = "Broker host name or address.", DefaultValueFactory = _ => "127.0.0.1", HelpName = "host" };

        public Option<int> Port { get; } = new("--port", "-p") { Description = "Broker MQTT TCP port.", DefaultValueFactory = _ => 1883, HelpName = "port" };

        public Option<string?> Username { get; } = new("--username", "-u") { Description = "User name for every connection.", HelpName = "user" };

        public Option<string?> Password { get; } = new("--pw", "-P") { Description = "Password for every connection.", HelpName = "password" };

        public Option<bool> Json { get; } = new("--json") { Description = "Print the summary as one JSON object instead of a table (no progress lines unless --progress)." };

        public Option<bool> Quiet { get; } = new("--quiet") { Description = "No progress lines." };

        public Option<bool> Progress { get; } = new("--progress") { Description = "Progress lines (to standard error with --json) even when not on a terminal." };

        public Option<double> ConnectRate { get; } = new("--connect-rate") { Description = "New connections per second while setting up (default: no pacing).", HelpName = "per-second" };

        public Option<bool> NoCleanSession { get; } = new("--disable-clean-session", "-c")
        {
            Description = "Persistent sessions (clean session 0) for every publisher and subscriber (conn: every connection), as tern sub -c. "
                + "Each starts empty (a session an earlier run left under its id is ended first) and is ended after the run.",
        };

        public Option<string?> PrefixOption { get; } = new("--prefix", "-i") { Description = "Client id prefix (default tern-bench-<pid>); ids are <prefix>-p<i>, -s<i>, -c<i>, -ch<i>.", HelpName = "prefix" };

        public void AddTo(Command command)
        {
            foreach (Option o in (Option[])[Host, Port, Username, Password, Json, Quiet, Progress])
            {
                command.Options.Add(o);
            }

            if (command.Name != "conn")
            {
                command.Options.Add(ConnectRate);
            }

            command.Options.Add(NoCleanSession);
            command.Options.Add(PrefixOption);

            // -h is the host, as in tern pub/sub and mosquitto: this command's help is --help or -?
            // (the root's recursive help option would claim -h).
            var help = new HelpOption();
            help.Aliases.Remove("-h");
            help.Aliases.Remove("/h");
            help.Recursive = false;
            command.Options.Add(help);
        }

        public BenchTarget Target(ParseResult r) => new(r.GetValue(Host)!, r.GetValue(Port))
        {
            Username = r.GetValue(Username),
            Password = r.GetValue(Password),
            CleanSession = !r.GetValue(NoCleanSession),
        };

        public string Prefix(ParseResult r) => r.GetValue(PrefixOption) ?? $"tern-bench-{Environment.ProcessId}";

        /// <summary>Where progress lines go: standard output on a terminal, standard error with --json, or nowhere.</summary>
        public TextWriter? ProgressWriter(ParseResult r)
        {
            bool json = r.GetValue(Json);
            if (r.GetValue(Quiet))
            {
                return null;
            }

            bool terminal = json ? !Console.IsErrorRedirected : !Console.IsOutputRedirected;
            if (!terminal && !r.GetValue(Progress))
            {
                return null;
            }

            return json ? Console.Error : Console.Out;
        }
    }

    /// <summary>Options of the publishing commands (pub, pubsub).</summary>
    private sealed class PublishOptions
    {
        private readonly Option<int> _count;
        private readonly Option<string> _topic = TopicOption("Publish topic; %i is the publisher's index, %j the topic index (0..--topics-1).", "bench/%i");
        private readonly Option<int> _topics = new("--topics") { Description = "Topics each publisher cycles through, one message each in turn (%j in the topic).", DefaultValueFactory = _ => 1, HelpName = "count", Validators = { Positive } };
        private readonly Option<MqttQoS> _qos = QoSOption("Publish QoS.");
        private readonly Option<int> _size = new("--size") { Description = $"Payload bytes (at least {BenchWire.PayloadHeaderSize}: marker, run id, stream id, sequence, timestamp).", DefaultValueFactory = _ => 64, HelpName = "bytes" };
        private readonly Option<double> _rate = new("--rate") { Description = "Messages per second over all publishers, or 'max' (default): as fast as the broker takes them.", HelpName = "R|max", CustomParser = ParseRate };
        private readonly Option<int> _inflight = new("--inflight", "-F") { Description = "QoS 1/2 messages a publisher may have unacknowledged.", DefaultValueFactory = _ => 64, HelpName = "count", Validators = { PacketIdRange } };
        private readonly Option<double?> _duration = DurationOption("Seconds to publish: the measured window (default 10 unless -M is given).");
        private readonly Option<long> _messages = new("--messages", "-M") { Description = "Messages per publisher; with no --duration, publishing ends when all are sent.", HelpName = "count" };

        public PublishOptions(int defaultCount) =>
            _count = CountOption("Publishing connections.", defaultCount);

        public void AddTo(Command command)
        {
            foreach (Option o in (Option[])[_count, _topic, _topics, _qos, _size, _rate, _inflight, _duration, _messages])
            {
                command.Options.Add(o);
            }
        }

        public double Rate(ParseResult r) => r.GetValue(_rate);

        public BenchSettings Apply(ParseResult r, BenchSettings settings)
        {
            long messages = r.GetValue(_messages);
            double? duration = r.GetValue(_duration);
            return settings with
            {
                Publishers = r.GetValue(_count),
                PublishTopic = r.GetValue(_topic)!,
                Topics = r.GetValue(_topics),
                PublishQoS = r.GetValue(_qos),
                PayloadSize = Math.Max(BenchWire.PayloadHeaderSize, r.GetValue(_size)),
                Inflight = r.GetValue(_inflight),
                Messages = messages,
                Duration = Seconds(duration ?? (messages > 0 ? null : 10)),
            };
        }

        private static double ParseRate(ArgumentResult result)
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "max";
            if (text == "max")
            {
                return 0;
            }

            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate > 0)
            {
                return rate;
            }

            result.AddError($"--rate must be a positive number of messages per second or 'max', not '{text}'.");
            return 0;
        }
    }
}
