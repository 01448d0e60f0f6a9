namespace Tern.Client;

/// <summary>Where and how to connect, resolved from the options at each attempt.</summary>
internal sealed record BrokerEndpoint(
    MqttTransport Transport, string Host, int Port, string Path, string? Username, string? Password)
{
    public bool IsTls => Transport is MqttTransport.Ssl or MqttTransport.SecureWebSocket;

    public bool IsWebSocket => Transport is MqttTransport.WebSocket or MqttTransport.SecureWebSocket;

    /// <summary>Applies esp-mqtt's precedence: URI over host/port, explicit transport over the scheme.</summary>
    public static BrokerEndpoint Resolve(MqttClientOptions options)
    {
        MqttTransport transport = MqttTransport.Tcp;
        string? host = options.Host;
        int port = options.Port;
        string path = options.WebSocketPath;
        string? username = options.Username;
        string? password = options.Password;

        if (!string.IsNullOrEmpty(options.Uri))
        {
            var uri = new Uri(options.Uri, UriKind.Absolute);
            transport = uri.Scheme.ToLowerInvariant() switch
            {
                "mqtt" or "tcp" => MqttTransport.Tcp,
                "mqtts" or "ssl" => MqttTransport.Ssl,
                "ws" => MqttTransport.WebSocket,
                "wss" => MqttTransport.SecureWebSocket,
                _ => throw new ArgumentException($"Unsupported URI scheme '{uri.Scheme}' (use mqtt, mqtts, ws or wss).", nameof(options)),
            };
            host = uri.IdnHost;
            port = uri.IsDefaultPort || uri.Port <= 0 ? (options.Port > 0 ? options.Port : 0) : uri.Port;
            if (uri.AbsolutePath.Length > 1)
            {
                path = uri.AbsolutePath;
            }

            if (uri.UserInfo.Length > 0)
            {
                // user:pass in the URI are percent-encoded (esp-mqtt decodes them too).
                int colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
                username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
                password = colon < 0 ? password : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        if (options.Transport is { } forced)
        {
            transport = forced;
        }

        if (string.IsNullOrEmpty(host))
        {
            throw new ArgumentException("Set MqttClientOptions.Uri or MqttClientOptions.Host.", nameof(options));
        }

        if (port <= 0)
        {
            port = DefaultPort(transport);
        }

        return new BrokerEndpoint(transport, host, port, path.StartsWith('/') ? path : "/" + path, username, password);
    }

    public static int DefaultPort(MqttTransport transport) => transport switch
    {
        MqttTransport.Ssl => 8883,
        MqttTransport.WebSocket => 80,
        MqttTransport.SecureWebSocket => 443,
        _ => 1883,
    };
}
