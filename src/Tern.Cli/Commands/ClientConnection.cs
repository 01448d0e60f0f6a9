using System.Text.RegularExpressions;
using Tern.Client;
using Tern.Protocol;

namespace Tern.Cli.Commands;

/// <summary>
/// One MqttClient for pub or sub: connects once and turns the first failure (refused CONNACK,
/// unreachable broker, TLS) into a one-line message; afterwards reports a lost connection.
/// </summary>
internal sealed partial class ClientConnection : IAsyncDisposable
{
    private readonly ClientSettings _settings;
    private readonly TaskCompletionSource<string?> _firstConnect = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<DisconnectedEventArgs> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Events come one at a time from the client's dispatcher, so this needs no lock.
    private bool _connected;

    private ClientConnection(ClientSettings settings)
    {
        _settings = settings;
        Client = new MqttClient(settings.Options);
        Client.Connected += OnConnected;
        Client.Error += OnError;
        Client.Disconnected += OnDisconnected;
    }

    public MqttClient Client { get; }

    /// <summary>Completes when an established connection is lost (and, for pub, not retried).</summary>
    public Task<DisconnectedEventArgs> Lost => _lost.Task;

    /// <summary>Connects; <paramref name="beforeStart"/> runs first (e.g. to start capturing messages).</summary>
    /// <exception cref="ClientConnectException">Refused, unreachable, or no answer in time.</exception>
    public static async Task<ClientConnection> ConnectAsync(ClientSettings settings, Action<MqttClient>? beforeStart, CancellationToken ct)
    {
        var connection = new ClientConnection(settings);
        try
        {
            beforeStart?.Invoke(connection.Client);
            await connection.Client.StartAsync(ct).ConfigureAwait(false);
            if (await connection._firstConnect.Task.WaitAsync(ct).ConfigureAwait(false) is { } error)
            {
                throw new ClientConnectException(error);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Sends DISCONNECT and closes.</summary>
    public async ValueTask DisposeAsync() => await Client.DisposeAsync().ConfigureAwait(false);

    /// <summary>"not authorized (CONNACK 0x05)": the code as a phrase and as the number on the wire.</summary>
    public static string DescribeRefusal(MqttErrorEventArgs e)
    {
        if (e.ConnectReturnCode is { } rc)
        {
            string text = rc switch
            {
                ConnectReturnCode.UnacceptableProtocolVersion => "unacceptable protocol version",
                ConnectReturnCode.IdentifierRejected => "client identifier rejected",
                ConnectReturnCode.ServerUnavailable => "server unavailable",
                ConnectReturnCode.BadUsernameOrPassword => "bad user name or password",
                ConnectReturnCode.NotAuthorized => "not authorized",
                _ => "unknown return code",
            };
            return $"{text} (CONNACK 0x{(byte)rc:X2})";
        }

        return e.ReasonCode is { } reason ? $"{Describe(reason)} (CONNACK 0x{(byte)reason:X2})" : e.Message;
    }

    /// <summary>"Connection to 127.0.0.1:1883 lost: the broker disconnected: server shutting down (DISCONNECT 0x8B)".</summary>
    public string LostLine(DisconnectedEventArgs e) => $"Connection to {_settings.Endpoint} lost: {Why(e)}";

    /// <summary>Why the connection ended, in words: the server's DISCONNECT (code, meaning, reason string) or what failed.</summary>
    public static string Why(DisconnectedEventArgs e) => e.ReasonCode is { } code
        ? $"the broker disconnected: {DescribeDisconnect(code, e)}"
        : e.Reason ?? e.Exception?.Message ?? "connection closed";

    /// <summary>"qos not supported (DISCONNECT 0x9B): QoS 2 is above the maximum QoS 1": meaning, code and the server's reason string.</summary>
    public static string DescribeDisconnect(ReasonCode code, DisconnectedEventArgs e)
        => $"{Describe(code)} (DISCONNECT 0x{(byte)code:X2}){(e.Properties?.ReasonString is { } r ? ": " + r : "")}";

    /// <summary>An MQTT 5 reason code as lower-case words: NotAuthorized → "not authorized".</summary>
    public static string Describe(ReasonCode code)
    {
        string name = Enum.IsDefined(code) ? code.ToString().Replace("QoS", "Qos", StringComparison.Ordinal) : "unknown reason";
        return WordBoundary().Replace(name, " ").ToLowerInvariant();
    }

    private void OnConnected(object? sender, ConnectedEventArgs e)
    {
        if (_settings.Debug)
        {
            Console.Error.WriteLine($"Connected to {_settings.Endpoint} as {Client.ClientId} ({Version(_settings.Options.ProtocolVersion)}, session present: {(e.SessionPresent ? "yes" : "no")})");
        }

        _connected = true;
        _firstConnect.TrySetResult(null);
    }

    private void OnError(object? sender, MqttErrorEventArgs e)
    {
        string message = e.ErrorType switch
        {
            MqttErrorType.ConnectionRefused => "Connection refused: " + DescribeRefusal(e),
            MqttErrorType.TcpTransport => $"Cannot connect to {_settings.Endpoint}: {e.Message}",
            MqttErrorType.Tls => $"TLS with {_settings.Endpoint} failed: {e.Message}",
            MqttErrorType.SubscribeFailed => "", // the sub command reports the SUBACK codes itself
            _ => $"Protocol error with {_settings.Endpoint}: {e.Message}",
        };

        if (message.Length == 0 || _connected)
        {
            // A lost connection is followed by Disconnected, which reports it once.
            return;
        }

        if (!_firstConnect.TrySetResult(message))
        {
            // After the first connect: a reconnect attempt failed (sub keeps trying, as mosquitto_sub does).
            Console.Error.WriteLine(message);
        }
    }

    private void OnDisconnected(object? sender, DisconnectedEventArgs e)
    {
        _connected = false;
        if (e.ClientInitiated)
        {
            return;
        }

        if (Client.Options.AutoReconnect)
        {
            Console.Error.WriteLine(LostLine(e).TrimEnd('.') + "; reconnecting.");
        }

        _lost.TrySetResult(e);
    }

    private static string Version(MqttProtocolVersion v) => v switch
    {
        MqttProtocolVersion.V500 => "MQTT 5.0",
        MqttProtocolVersion.V310 => "MQTT 3.1",
        _ => "MQTT 3.1.1",
    };

    [GeneratedRegex("(?<=[a-z])(?=[A-Z])")]
    private static partial Regex WordBoundary();
}

/// <summary>The first connection failed; the message is the whole story in one line.</summary>
internal sealed class ClientConnectException(string message) : Exception(message);
