using Tern.Protocol;

namespace Tern.Server.Bridges;

/// <summary>One entry of <c>Bridges</c>: a remote broker and the topics forwarded to and from it (Mosquitto's <c>connection</c> block).</summary>
internal sealed class BridgeOptions
{
    public const string SectionName = "Bridges";

    /// <summary>Names the bridge in the REST API, the logs and the default client id (Mosquitto <c>connection</c>).</summary>
    public string? Name { get; set; }

    /// <summary><c>host:port</c> of the remote broker (Mosquitto <c>address</c>); the port defaults to 1883, or 8883 with TLS.</summary>
    public string? Address { get; set; }

    /// <summary><c>3.1.1</c> or <c>5</c> (Mosquitto <c>bridge_protocol_version mqttv311|mqttv50</c>).</summary>
    public string ProtocolVersion { get; set; } = "3.1.1";

    /// <summary>The client id on the remote; default <c>&lt;host name&gt;.&lt;Name&gt;</c>, as Mosquitto's.</summary>
    public string? ClientId { get; set; }

    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>Keep alive on the remote connection, in seconds (Mosquitto <c>keepalive_interval</c>).</summary>
    public int KeepAliveSeconds { get; set; } = 60;

    /// <summary>Start a clean session on the remote at every connect (Mosquitto <c>cleansession</c>).</summary>
    public bool CleanSession { get; set; } = true;

    /// <summary>First wait before reconnecting, in seconds; doubles per failed attempt (Mosquitto <c>restart_timeout</c> base).</summary>
    public double ReconnectMinSeconds { get; set; } = 1;

    /// <summary>Longest wait before reconnecting, in seconds (Mosquitto <c>restart_timeout</c> cap).</summary>
    public double ReconnectMaxSeconds { get; set; } = 30;

    /// <summary>Messages held for the remote while it is down or has not acknowledged them; more are dropped (<c>bridge_queue_full</c>).</summary>
    public int MaxQueued { get; set; } = 1000;

    /// <summary>
    /// MQTT 3.1.1 only: announce the bridge in CONNECT (protocol level 0x84, Mosquitto's <c>try_private</c>) so that a
    /// remote that knows the convention does not send back what the bridge published. Turn off for brokers that refuse it.
    /// </summary>
    public bool TryPrivate { get; set; } = true;

    /// <summary>
    /// Publish the bridge's state, retained, <c>1</c> when connected and <c>0</c> when not, on this broker and on the remote,
    /// where a will in the bridge's CONNECT says <c>0</c> when the link dies (Mosquitto <c>notifications</c>).
    /// </summary>
    public bool Notifications { get; set; } = true;

    /// <summary>The state's topic; default <c>$SYS/broker/connection/&lt;client id&gt;/state</c> (Mosquitto <c>notification_topic</c>).</summary>
    public string? NotificationTopic { get; set; }

    /// <summary>Publish the state on this broker only: no will and no state message on the remote (Mosquitto <c>notifications_local_only</c>).</summary>
    public bool NotificationsLocalOnly { get; set; }

    public BridgeTlsOptions Tls { get; set; } = new();

    /// <summary>The topic rules (Mosquitto <c>topic pattern direction qos local-prefix remote-prefix</c>).</summary>
    public List<BridgeTopicOptions> Topics { get; set; } = [];

    public MqttProtocolVersion Version => ProtocolVersion.Trim() switch
    {
        "5" or "5.0" => MqttProtocolVersion.V500,
        _ => MqttProtocolVersion.V311,
    };

    public string EffectiveClientId => string.IsNullOrWhiteSpace(ClientId) ? $"{Environment.MachineName}.{Name}" : ClientId;

    /// <summary>Where the state goes, or null with <see cref="Notifications"/> off.</summary>
    public string? EffectiveNotificationTopic => !Notifications ? null
        : string.IsNullOrEmpty(NotificationTopic) ? $"$SYS/broker/connection/{EffectiveClientId}/state"
        : NotificationTopic;

    /// <summary>Host and port of <see cref="Address"/>; call after <see cref="Validate"/>.</summary>
    public (string Host, int Port) Endpoint => TryParseAddress(Address!, Tls.Enabled ? 8883 : 1883, out var host, out var port) ? (host, port) : throw new InvalidOperationException("Validate first.");

    /// <summary><c>host</c>, <c>host:port</c>, <c>[v6]</c> or <c>[v6]:port</c>.</summary>
    private static bool TryParseAddress(string address, int defaultPort, out string host, out int port)
    {
        address = address.Trim();
        host = address;
        port = defaultPort;
        string? portText = null;
        if (address.StartsWith('['))
        {
            var close = address.IndexOf(']');
            if (close < 0)
            {
                return false;
            }

            host = address[1..close];
            if (close + 1 < address.Length)
            {
                if (address[close + 1] != ':')
                {
                    return false;
                }

                portText = address[(close + 2)..];
            }
        }
        else if (address.IndexOf(':') is var colon and >= 0)
        {
            if (address.LastIndexOf(':') != colon)
            {
                return false; // a bare IPv6 address: it needs brackets to carry a port
            }

            host = address[..colon];
            portText = address[(colon + 1)..];
        }

        if (portText is not null && (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            return false;
        }

        return host.Length > 0;
    }

    /// <exception cref="ArgumentException">A value is invalid; <c>ParamName</c> is its key under the bridge.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name) || !Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException("the bridge needs a Name of letters, digits, '-', '_' or '.'.", nameof(Name));
        }

        if (string.IsNullOrWhiteSpace(Address))
        {
            throw new ArgumentException("the remote broker's Address (host:port) is required.", nameof(Address));
        }

        if (!TryParseAddress(Address, 1883, out _, out _))
        {
            throw new ArgumentException($"'{Address}' is not host:port (or [IPv6]:port) with a port from 1 to 65535.", nameof(Address));
        }

        if (ClientId is not null && (ClientId.Length == 0 || ClientId.AsSpan().IndexOfAny('+', '#') >= 0))
        {
            // It also names the bridge's state topic, $SYS/broker/connection/<client id>/state.
            throw new ArgumentException($"ClientId '{ClientId}' must not be empty or hold '+' or '#'.", nameof(ClientId));
        }

        if (NotificationTopic is { Length: > 0 } topic && !MqttTopic.IsValidTopicName(topic))
        {
            throw new ArgumentException($"NotificationTopic '{topic}' is not a topic name (no '+' or '#').", nameof(NotificationTopic));
        }

        if (ProtocolVersion.Trim() is not ("3.1.1" or "5" or "5.0"))
        {
            throw new ArgumentException($"ProtocolVersion must be 3.1.1 or 5, not '{ProtocolVersion}'.", nameof(ProtocolVersion));
        }

        if (KeepAliveSeconds is < 0 or > ushort.MaxValue)
        {
            throw new ArgumentException("KeepAliveSeconds must be from 0 to 65535.", nameof(KeepAliveSeconds));
        }

        if (ReconnectMinSeconds <= 0 || double.IsNaN(ReconnectMinSeconds))
        {
            throw new ArgumentException("ReconnectMinSeconds must be more than 0.", nameof(ReconnectMinSeconds));
        }

        if (ReconnectMaxSeconds < ReconnectMinSeconds)
        {
            throw new ArgumentException("ReconnectMaxSeconds must be at least ReconnectMinSeconds.", nameof(ReconnectMaxSeconds));
        }

        if (MaxQueued < 1)
        {
            throw new ArgumentException("MaxQueued must be at least 1.", nameof(MaxQueued));
        }

        Tls.Validate();
        if (Topics.Count == 0)
        {
            throw new ArgumentException("a bridge needs at least one topic rule.", nameof(Topics));
        }

        for (var i = 0; i < Topics.Count; i++)
        {
            try
            {
                Topics[i].Validate();
            }
            catch (ArgumentException ex)
            {
                var message = ex.Message;
                var suffix = $" (Parameter '{ex.ParamName}')";
                if (message.EndsWith(suffix, StringComparison.Ordinal))
                {
                    message = message[..^suffix.Length];
                }

                throw new ArgumentException(message, $"Topics:{i}:{ex.ParamName}", ex);
            }
        }
    }
}

/// <summary>TLS to the remote broker, with the options of Tern.Client (PEM files).</summary>
internal sealed class BridgeTlsOptions
{
    public bool Enabled { get; set; }

    /// <summary>PEM CA certificate(s) the remote's certificate must chain to; none: the system store (Mosquitto <c>bridge_cafile</c>).</summary>
    public string? CaFile { get; set; }

    /// <summary>PEM client certificate for mutual TLS (Mosquitto <c>bridge_certfile</c>).</summary>
    public string? CertFile { get; set; }

    /// <summary>PEM private key of <see cref="CertFile"/> (Mosquitto <c>bridge_keyfile</c>).</summary>
    public string? KeyFile { get; set; }

    /// <summary>Accept a certificate whose name does not match the host (Mosquitto <c>bridge_insecure</c>).</summary>
    public bool SkipNameCheck { get; set; }

    public void Validate()
    {
        foreach (var (key, path) in new[] { ("Tls:CaFile", CaFile), ("Tls:CertFile", CertFile), ("Tls:KeyFile", KeyFile) })
        {
            if (path is not null && !File.Exists(path))
            {
                throw new ArgumentException($"file not found: {Path.GetFullPath(path)}.", key);
            }
        }

        if ((CertFile is null) != (KeyFile is null))
        {
            throw new ArgumentException("a client certificate needs both CertFile and KeyFile.", CertFile is null ? "Tls:CertFile" : "Tls:KeyFile");
        }
    }
}

/// <summary>Which way a topic rule forwards.</summary>
internal enum BridgeDirection
{
    /// <summary>Local messages to the remote.</summary>
    Out,

    /// <summary>Remote messages into the local broker.</summary>
    In,

    Both,
}

/// <summary>
/// One <c>topic</c> line: <see cref="Pattern"/> is matched after <see cref="LocalPrefix"/> on this broker and after
/// <see cref="RemotePrefix"/> on the remote; a forwarded topic loses one prefix and gains the other.
/// </summary>
internal sealed class BridgeTopicOptions
{
    /// <summary>A topic filter; empty when a prefix is the whole topic (as in Mosquitto).</summary>
    public string Pattern { get; set; } = "";

    public BridgeDirection Direction { get; set; } = BridgeDirection.Out;

    /// <summary>The subscription QoS on the side messages come from: forwarded messages keep the lower of theirs and this.</summary>
    public int QoS { get; set; }

    public string LocalPrefix { get; set; } = "";

    public string RemotePrefix { get; set; } = "";

    public string LocalFilter => LocalPrefix + Pattern;

    public string RemoteFilter => RemotePrefix + Pattern;

    public bool Out => Direction != BridgeDirection.In;

    public bool In => Direction != BridgeDirection.Out;

    public void Validate()
    {
        if (QoS is < 0 or > 2)
        {
            throw new ArgumentException("QoS must be 0, 1 or 2.", nameof(QoS));
        }

        foreach (var (key, prefix) in new[] { (nameof(LocalPrefix), LocalPrefix), (nameof(RemotePrefix), RemotePrefix) })
        {
            if (prefix.AsSpan().IndexOfAny('+', '#') >= 0)
            {
                throw new ArgumentException($"'{prefix}' is a prefix of topics and cannot hold wildcards.", key);
            }
        }

        if (Pattern.Length == 0 && (LocalPrefix.Length == 0 || RemotePrefix.Length == 0))
        {
            throw new ArgumentException("an empty Pattern needs both prefixes (each is then a whole topic).", nameof(Pattern));
        }

        if (!MqttTopic.IsValidTopicFilter(LocalFilter) || !MqttTopic.IsValidTopicFilter(RemoteFilter))
        {
            throw new ArgumentException($"'{Pattern}' with the prefixes ('{LocalFilter}', '{RemoteFilter}') is not a valid topic filter.", nameof(Pattern));
        }
    }

    /// <summary>The remote topic of a local one this rule matched (its local prefix swapped for the remote one).</summary>
    public string ToRemote(string localTopic) => RemotePrefix + localTopic[LocalPrefix.Length..];

    /// <summary>The local topic of a remote one this rule matched.</summary>
    public string ToLocal(string remoteTopic) => LocalPrefix + remoteTopic[RemotePrefix.Length..];
}
