using System.CommandLine;
using System.CommandLine.Help;

namespace Tern.Cli.Commands;

/// <summary>
/// The connection, session, will, TLS and MQTT 5 property flags that <c>tern pub</c> and <c>tern sub</c>
/// share, named as in mosquitto_pub/mosquitto_sub so that muscle memory carries over.
/// </summary>
internal sealed class ClientOptions
{
    public Option<string> Host { get; } = new("--host", "-h")
    {
        Description = "Broker host.",
        HelpName = "host",
        DefaultValueFactory = _ => "127.0.0.1",
    };

    public Option<int?> Port { get; } = new("--port", "-p")
    {
        Description = "Broker port (default 1883, or 8883 with TLS).",
        HelpName = "port",
    };

    public Option<string?> Url { get; } = new("--url", "-L")
    {
        Description = "Broker and topic as one URL: mqtt(s)://[user[:password]@]host[:port]/topic (the topic is percent-decoded, %23 is #).",
        HelpName = "url",
    };

    public Option<string?> ClientId { get; } = new("--id", "-i")
    {
        Description = "Client id (default: tern- and random hex digits).",
        HelpName = "id",
    };

    public Option<string?> Username { get; } = new("--username", "-u") { Description = "User name.", HelpName = "user" };

    public Option<string?> Password { get; } = new("--pw", "-P") { Description = "Password.", HelpName = "password" };

    public Option<int> KeepAlive { get; } = new("--keepalive", "-k")
    {
        Description = "Keep alive in seconds; 0 turns it off.",
        HelpName = "seconds",
        DefaultValueFactory = _ => 60,
    };

    public Option<string?> Version { get; } = new("--protocol-version", "-V")
    {
        Description = "MQTT version: 311 (default), 5 or 31. -D and -x select 5 when -V is not given.",
        HelpName = "311|5|31",
    };

    public Option<bool> NoCleanSession { get; } = new("--disable-clean-session", "-c")
    {
        Description = "Keep the session (subscriptions, queued QoS 1/2 messages) after disconnecting; needs -i.",
    };

    public Option<uint?> SessionExpiry { get; } = new("--session-expiry-interval", "-x")
    {
        Description = "MQTT 5 session expiry interval in seconds (implies -V 5 when -V is not given).",
        HelpName = "seconds",
    };

    public Option<int> QoS { get; } = new("--qos", "-q")
    {
        Description = "Quality of service: 0, 1 or 2.",
        HelpName = "qos",
    };

    public Option<string?> WillTopic { get; } = new("--will-topic") { Description = "Topic of the last will message.", HelpName = "topic" };

    public Option<string?> WillPayload { get; } = new("--will-payload") { Description = "Payload of the last will message.", HelpName = "payload" };

    public Option<int> WillQoS { get; } = new("--will-qos") { Description = "QoS of the last will message.", HelpName = "qos" };

    public Option<bool> WillRetain { get; } = new("--will-retain") { Description = "Retain the last will message." };

    public Option<FileInfo?> CaFile { get; } = new("--cafile")
    {
        Description = "PEM CA certificate(s) the broker certificate must chain to; turns TLS on.",
        HelpName = "file",
    };

    public Option<FileInfo?> Cert { get; } = new("--cert") { Description = "PEM client certificate (mutual TLS); turns TLS on.", HelpName = "file" };

    public Option<FileInfo?> Key { get; } = new("--key") { Description = "PEM private key of --cert.", HelpName = "file" };

    public Option<bool> Insecure { get; } = new("--insecure")
    {
        Description = "Do not check that the broker certificate's name matches the host.",
    };

    // Several -D flags each take three or four words; one greedy list keeps them in order and
    // ClientProperties splits it (user-property is the only identifier with two values).
    public Option<string[]> Properties { get; } = new("--property", "-D")
    {
        Description = "MQTT 5 property: -D command identifier value, e.g. -D publish user-property key value, "
            + "-D publish message-expiry-interval 30, -D connect session-expiry-interval 60, -D subscribe subscription-identifier 7. "
            + "Commands: connect, publish, subscribe, will. Repeatable.",
        HelpName = "command identifier value",
        AllowMultipleArgumentsPerToken = true,
        Arity = ArgumentArity.OneOrMore,
    };

    public Option<bool> Debug { get; } = new("--debug", "-d")
    {
        Description = "Print connection events (connected, subscribed, acknowledged) to stderr.",
    };

    /// <summary>Adds the shared flags, and frees <c>-h</c> for the host as in mosquitto (help stays --help and -?).</summary>
    public void AddTo(Command command)
    {
        Option[] options =
        [
            Host, Port, Url, ClientId, Username, Password, KeepAlive, Version, NoCleanSession, SessionExpiry, QoS,
            WillTopic, WillPayload, WillQoS, WillRetain, CaFile, Cert, Key, Insecure, Properties, Debug,
        ];
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        // The root's help option is recursive and would claim -h; this command gets its own help without it.
        var help = new HelpOption();
        help.Aliases.Remove("-h");
        help.Aliases.Remove("/h");
        help.Recursive = false;
        command.Options.Add(help);
    }
}
