using Tern.Protocol;

namespace Tern.Broker;

/// <summary>
/// CONNECT, in one place: the three ways in (no authenticator, the authenticator chain, MQTT 5
/// enhanced authentication) end in <see cref="HandleConnect"/>, which checks bans and limits, takes
/// the session (<see cref="SessionManager.Connect"/>) and attaches with the CONNACK; or in
/// <see cref="Refuse"/>.
/// </summary>
internal sealed partial class MqttConnection
{
    /// <summary>CONNECT through the registered authenticators (user store, JWT, ...).</summary>
    private async Task<bool> HandleCheckedConnectAsync(ConnectPacket connect, CancellationToken cancellationToken)
    {
        _connectReceived = true;
        Version = connect.ProtocolVersion;
        var fromCertificate = _info.CertificateUsername is not null;
        var credentials = new ConnectCredentials(
            connect.ClientId,
            _info.CertificateUsername ?? connect.Username,
            connect.Password,
            _info.RemoteEndPoint,
            _info.Listener,
            connect.ProtocolVersion,
            _info.ClientCertificate,
            fromCertificate);

        foreach (var authenticator in _broker.Authenticators)
        {
            var result = await authenticator.AuthenticateAsync(credentials, cancellationToken).ConfigureAwait(false);
            switch (result.Outcome)
            {
                case AuthenticationOutcome.NotHandled:
                    continue;
                case AuthenticationOutcome.Success:
                    return HandleConnect(connect, null, null, result.Username ?? credentials.Username, result.Rules);
                case AuthenticationOutcome.BadCredentials:
                    return RefuseAuthentication(ConnectReturnCode.BadUsernameOrPassword, ReasonCode.BadUserNameOrPassword, result.Reason ?? "bad user name or password");
                default:
                    return RefuseAuthentication(ConnectReturnCode.NotAuthorized, ReasonCode.NotAuthorized, result.Reason ?? "not authorized");
            }
        }

        return RefuseAuthentication(ConnectReturnCode.NotAuthorized, ReasonCode.NotAuthorized, "no authenticator accepted the client");
    }

    /// <summary>CONNECT with an authentication method (MQTT 5 enhanced authentication, spec 4.12).</summary>
    private async Task<bool> HandleAuthenticatedConnectAsync(ConnectPacket connect, CancellationToken cancellationToken)
    {
        _connectReceived = true;
        Version = connect.ProtocolVersion;
        var method = connect.Properties!.AuthenticationMethod!;
        var authenticator = _broker.FindAuthenticator(method);
        if (authenticator is null)
        {
            return RefuseAuthentication(ConnectReturnCode.NotAuthorized, ReasonCode.BadAuthenticationMethod, $"authentication method '{method}' is not supported");
        }

        _authMethod = method;
        _pendingConnect = connect;
        _authExchange = authenticator.Begin(new EnhancedAuthContext(connect.ClientId, connect.Username, _info.RemoteEndPoint, IsReauthentication: false));
        return await StepAsync(connect.Properties.AuthenticationData ?? ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
    }

    private bool HandleConnect(ConnectPacket connect, string? authMethod, ReadOnlyMemory<byte>? authData, string? username, IReadOnlyList<AccessRule>? rules)
    {
        Version = connect.ProtocolVersion;
        IsBridge = connect.IsBridge;
        var options = _broker.Options;
        var clientId = connect.ClientId;
        string? assignedId = null;

        if (IsV5 && options.Redirect != ServerRedirect.None)
        {
            var code = options.Redirect == ServerRedirect.ServerMoved ? ReasonCode.ServerMoved : ReasonCode.UseAnotherServer;
            return Refuse(ConnectReturnCode.ServerUnavailable, code, "redirected to " + options.ServerReference, new MqttProperties { ServerReference = options.ServerReference });
        }

        if (clientId.Length == 0)
        {
            // 3.1 requires an id; 3.1.1 assigns one only to a clean session [MQTT-3.1.3-7, -8].
            if (Version == MqttProtocolVersion.V310 || (!connect.CleanSession && !IsV5))
            {
                return Refuse(ConnectReturnCode.IdentifierRejected, ReasonCode.ClientIdentifierNotValid, "empty client id without clean session");
            }

            clientId = assignedId = _broker.AssignClientId();
        }

        if (CheckBans(clientId, username) is { } banned)
        {
            return Refuse(ConnectReturnCode.NotAuthorized, ReasonCode.Banned, banned);
        }

        var properties = connect.Properties;
        var requestedExpiry = IsV5
            ? properties?.SessionExpiryInterval ?? 0
            : connect.CleanSession ? 0 : MqttSession.NeverExpires;

        // Broker:MaxSessionExpirySeconds caps 3.1.1 persistent sessions too (which ask for "never").
        var expiry = Math.Min(requestedExpiry, options.MaxSessionExpirySeconds);
        var inflightLimit = options.MaxInflight;
        if (IsV5)
        {
            if (properties?.ReceiveMaximum is { } receiveMaximum)
            {
                inflightLimit = Math.Min(inflightLimit, receiveMaximum);
            }

            _clientMaximumPacketSize = properties?.MaximumPacketSize is { } max ? (int)Math.Min(max, int.MaxValue) : int.MaxValue;
            _clientTopicAliasMaximum = properties?.TopicAliasMaximum ?? 0;
            _requestProblemInformation = properties?.RequestProblemInformation != 0;
        }

        ClientId = clientId;
        Username = username;
        _identity = CreateIdentity(username, rules);
        KeepAlive = EffectiveKeepAlive(connect.KeepAlive);
        CleanStart = connect.CleanSession;
        _will = connect.Will;
        IsConnected = true;

        var session = _broker.Sessions.Connect(this, clientId, connect.CleanSession, expiry, _identity, out var sessionPresent, out var previous);
        if (session is null && _broker.Sessions.IsPulled(clientId))
        {
            IsConnected = false;
            return Refuse(ConnectReturnCode.IdentifierRejected, ReasonCode.ClientIdentifierNotValid, "the client id names a bridge's session in this broker");
        }

        if (session is null)
        {
            IsConnected = false;
            return Refuse(ConnectReturnCode.ServerUnavailable, ReasonCode.QuotaExceeded, $"the broker holds Broker:MaxSessions ({options.MaxSessions}) sessions");
        }

        _session = session;
        if (previous is not null)
        {
            Log.SessionTakenOver(_logger, clientId, previous.RemoteEndPoint);
            previous.Close("session taken over by a new connection", publishWill: true, ReasonCode.SessionTakenOver);
        }

        var connAck = new ConnAckPacket
        {
            // MQTT 3.1 has no session present flag.
            SessionPresent = sessionPresent && Version != MqttProtocolVersion.V310,
            ReasonCode = 0,
            Properties = IsV5
                ? BuildConnAckProperties(assignedId, properties, connect.KeepAlive) with
                {
                    AuthenticationMethod = authMethod,
                    AuthenticationData = authMethod is null ? null : authData,

                    // The client is told when it gets another expiry than it asked for (3.2.2.3.2).
                    SessionExpiryInterval = expiry != requestedExpiry ? expiry : null,
                }
                : null,
        };
        if (!session.Attach(this, connAck, inflightLimit))
        {
            // A newer CONNECT with this client id took the session between the two steps; it closes us.
            _closeReason = "session taken over by a new connection";
            _publishWill = false;
            return false;
        }

        Log.ClientConnected(_logger, clientId, RemoteEndPoint, VersionName(Version), connect.CleanSession, KeepAlive, sessionPresent);
        return true;
    }

    /// <summary>Why the client may not connect (banned, or flapping), or null.</summary>
    private string? CheckBans(string clientId, string? username)
    {
        var bans = _broker.Bans;
        if (bans.IsBanned(BanKind.ClientId, clientId, out var ban) || bans.IsBanned(BanKind.Username, username, out ban))
        {
            return $"banned ({ban!.Reason})";
        }

        if (_broker.Limiter.RecordConnect(clientId, _broker.Time.GetUtcNow()))
        {
            return $"client id {clientId} is flapping and is banned for {_broker.Options.Flapping.BanSeconds} s";
        }

        return null;
    }

    /// <summary>
    /// Broker:ServerKeepAlive caps what MQTT 5 clients ask for (0, "no keep alive", included), as
    /// Mosquitto's max_keepalive does; the client is told in CONNACK [MQTT-3.2.2-21].
    /// </summary>
    private ushort EffectiveKeepAlive(ushort requested)
    {
        if (!IsV5 || _broker.Options.ServerKeepAlive is not { } maximum)
        {
            return requested;
        }

        return requested == 0 || requested > maximum ? (ushort)maximum : requested;
    }

    private MqttProperties BuildConnAckProperties(string? assignedId, MqttProperties? connectProperties, ushort requestedKeepAlive)
    {
        var options = _broker.Options;
        return new MqttProperties
        {
            AssignedClientIdentifier = assignedId,
            ServerKeepAlive = KeepAlive != requestedKeepAlive ? KeepAlive : null,
            ReceiveMaximum = (ushort)options.ReceiveMaximum,
            MaximumPacketSize = (uint)options.MaxPacketSize,
            TopicAliasMaximum = options.TopicAliasMaximum > 0 ? (ushort)options.TopicAliasMaximum : null,
            MaximumQoS = options.MaximumQoS < 2 ? (byte)options.MaximumQoS : null,
            RetainAvailable = options.RetainAvailable ? null : (byte)0,
            WildcardSubscriptionAvailable = options.WildcardSubscriptionAvailable ? null : (byte)0,
            SubscriptionIdentifierAvailable = options.SubscriptionIdentifiersAvailable ? null : (byte)0,
            SharedSubscriptionAvailable = options.SharedSubscriptionAvailable ? null : (byte)0,
            ResponseInformation = connectProperties?.RequestResponseInformation == 1 && options.ResponseInformation.Length > 0
                ? options.ResponseInformation.Replace("{clientid}", ClientId, StringComparison.Ordinal)
                : null,
        };
    }

    /// <summary>A refusal by authentication, counted (<see cref="BrokerStatistics.AuthenticationFailures"/>).</summary>
    private bool RefuseAuthentication(ConnectReturnCode code311, ReasonCode code5, string reason)
    {
        _broker.Statistics.AuthenticationFailed();
        return Refuse(code311, code5, reason);
    }

    /// <summary>Answers CONNECT with a refusal and ends the connection.</summary>
    private bool Refuse(ConnectReturnCode code311, ReasonCode code5, string reason, MqttProperties? properties = null)
    {
        var code = IsV5 ? (byte)code5 : (byte)code311;
        SendControl(new ConnAckPacket { ReasonCode = code, Properties = IsV5 ? (properties ?? new MqttProperties { ReasonString = reason }) : null });
        _closeReason = "connection refused: " + reason;
        _publishWill = false;
        _lingerOnClose = true;
        Log.ConnectionRefused(_logger, RemoteEndPoint, reason);
        return false;
    }
}
