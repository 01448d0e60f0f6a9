using System.CommandLine;
using System.Globalization;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Cli.Commands;

/// <summary>What the shared flags of pub and sub amount to: client options, QoS, properties and the -L topic.</summary>
internal sealed record ClientSettings(MqttClientOptions Options, MqttQoS QoS, ClientProperties Properties, string? UrlTopic, bool Debug)
{
    public bool IsV5 => Options.ProtocolVersion == MqttProtocolVersion.V500;

    /// <summary>host:port for messages.</summary>
    public string Endpoint => $"{Options.Host}:{Options.Port}";

    /// <exception cref="ClientUsageException">The flags contradict each other or a value is out of range.</exception>
    public static ClientSettings From(ParseResult result, ClientOptions o)
    {
        var properties = ClientProperties.Parse(result.GetValue(o.Properties) ?? []);
        uint? sessionExpiry = result.GetValue(o.SessionExpiry);
        var version = ParseVersion(result.GetValue(o.Version), properties.Any || sessionExpiry is not null);
        if (version != MqttProtocolVersion.V500 && (properties.Any || sessionExpiry is not null))
        {
            throw new ClientUsageException("-D and -x are MQTT 5 features; use -V 5.");
        }

        var options = new MqttClientOptions
        {
            Host = result.GetValue(o.Host),
            ClientId = result.GetValue(o.ClientId),
            Username = result.GetValue(o.Username),
            Password = result.GetValue(o.Password),
            ProtocolVersion = version,
            CleanSession = !result.GetValue(o.NoCleanSession),
            // A command-line tool reports a refused or lost first connection instead of retrying.
            AutoReconnect = false,
            SessionExpiryInterval = sessionExpiry ?? properties.Connect.SessionExpiryInterval,
            ReceiveMaximum = properties.Connect.ReceiveMaximum,
            MaximumPacketSize = properties.Connect.MaximumPacketSize,
            TopicAliasMaximum = properties.Connect.TopicAliasMaximum,
            UserProperties = properties.Connect.UserProperties,
        };

        if (!options.CleanSession && string.IsNullOrEmpty(options.ClientId))
        {
            throw new ClientUsageException("-c (keep the session) needs a client id: give it with -i, or the next run gets a new session anyway.");
        }

        int keepAlive = result.GetValue(o.KeepAlive);
        if (keepAlive is < 0 or > 65535)
        {
            throw new ClientUsageException($"-k must be between 0 and 65535 seconds, not {keepAlive}.");
        }

        options.KeepAlive = TimeSpan.FromSeconds(keepAlive);
        options.DisableKeepAlive = keepAlive == 0;

        string? urlTopic = null;
        bool tls = false;
        if (result.GetValue(o.Url) is { } url)
        {
            urlTopic = ApplyUrl(url, options, out tls);
        }

        ApplyWill(result, o, options, properties);
        tls |= ApplyTls(result, o, options);
        if (result.GetValue(o.Port) is { } port)
        {
            options.Port = port is >= 1 and <= 65535 ? port : throw new ClientUsageException($"-p must be a port between 1 and 65535, not {port}.");
        }
        else if (options.Port == 0)
        {
            options.Port = tls ? 8883 : 1883;
        }

        options.Transport ??= tls ? MqttTransport.Ssl : MqttTransport.Tcp;
        return new ClientSettings(options, ParseQoS("-q", result.GetValue(o.QoS)), properties, urlTopic, result.GetValue(o.Debug));
    }

    public static MqttQoS ParseQoS(string flag, int value) =>
        value is >= 0 and <= 2 ? (MqttQoS)value : throw new ClientUsageException($"{flag} must be 0, 1 or 2, not {value}.");

    private static MqttProtocolVersion ParseVersion(string? text, bool impliesV5) => text?.ToLowerInvariant() switch
    {
        null => impliesV5 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311,
        "311" or "mqttv311" or "3.1.1" => MqttProtocolVersion.V311,
        "5" or "mqttv5" or "5.0" => MqttProtocolVersion.V500,
        "31" or "mqttv31" or "3.1" => MqttProtocolVersion.V310,
        _ => throw new ClientUsageException($"-V must be 311, 5 or 31, not '{text}'."),
    };

    /// <summary>
    /// mqtt(s)://[user[:pass]@]host[:port]/topic. Parsed by hand: System.Uri would treat the '#' of
    /// a wildcard as a fragment and lowercase nothing we want lowercased.
    /// </summary>
    private static string? ApplyUrl(string url, MqttClientOptions options, out bool tls)
    {
        int schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        string scheme = schemeEnd < 0 ? "" : url[..schemeEnd].ToLowerInvariant();
        tls = scheme == "mqtts";
        if (scheme is not ("mqtt" or "mqtts"))
        {
            throw new ClientUsageException($"-L must look like mqtt://[user[:password]@]host[:port]/topic or mqtts://..., not '{url}'.");
        }

        string rest = url[(schemeEnd + 3)..];
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string authority = slash < 0 ? rest : rest[..slash];
        string? topic = slash < 0 || slash == rest.Length - 1 ? null : Uri.UnescapeDataString(rest[(slash + 1)..]);
        int at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            string user = authority[..at];
            int colon = user.IndexOf(':', StringComparison.Ordinal);
            options.Username = Uri.UnescapeDataString(colon < 0 ? user : user[..colon]);
            if (colon >= 0)
            {
                options.Password = Uri.UnescapeDataString(user[(colon + 1)..]);
            }

            authority = authority[(at + 1)..];
        }

        int portColon = authority.LastIndexOf(':');
        if (portColon >= 0 && !authority.EndsWith(']'))
        {
            string portText = authority[(portColon + 1)..];
            options.Port = int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
                ? port
                : throw new ClientUsageException($"-L: '{portText}' is not a port between 1 and 65535.");
            authority = authority[..portColon];
        }

        options.Host = authority.Length > 0 ? authority.Trim('[', ']') : throw new ClientUsageException($"-L: no host in '{url}'.");
        return topic;
    }

    private static void ApplyWill(ParseResult result, ClientOptions o, MqttClientOptions options, ClientProperties properties)
    {
        string? topic = result.GetValue(o.WillTopic);
        string? payload = result.GetValue(o.WillPayload);
        if (topic is null)
        {
            if (payload is not null || result.GetValue(o.WillRetain) || result.GetValue(o.WillQoS) != 0)
            {
                throw new ClientUsageException("--will-payload, --will-qos and --will-retain need --will-topic.");
            }

            return;
        }

        if (!MqttTopic.IsValidTopicName(topic))
        {
            throw new ClientUsageException($"--will-topic '{topic}' is not a valid topic name (no wildcards, not empty).");
        }

        options.LastWillTopic = topic;
        options.LastWillText = payload ?? "";
        options.LastWillQoS = ParseQoS("--will-qos", result.GetValue(o.WillQoS));
        options.LastWillRetain = result.GetValue(o.WillRetain);
        options.LastWillProperties = properties.Will == MqttProperties.Empty ? null : properties.Will;
    }

    /// <summary>Reads the PEM files; returns whether TLS is on.</summary>
    private static bool ApplyTls(ParseResult result, ClientOptions o, MqttClientOptions options)
    {
        var ca = result.GetValue(o.CaFile);
        var cert = result.GetValue(o.Cert);
        var key = result.GetValue(o.Key);
        if ((cert is null) != (key is null))
        {
            throw new ClientUsageException("--cert and --key go together.");
        }

        options.ServerCertificatePem = ca is null ? null : ReadPem("--cafile", ca);
        options.ClientCertificatePem = cert is null ? null : ReadPem("--cert", cert);
        options.ClientKeyPem = key is null ? null : ReadPem("--key", key);
        options.SkipCertificateCommonNameCheck = result.GetValue(o.Insecure);
        return ca is not null || cert is not null;
    }

    private static string ReadPem(string flag, FileInfo file)
    {
        try
        {
            return File.ReadAllText(file.FullName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ClientUsageException($"{flag}: cannot read '{file.FullName}': {ex.Message}");
        }
    }
}
