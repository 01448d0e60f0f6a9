using Tern.Protocol;

namespace Tern.Broker;

internal sealed partial class MqttConnection
{
    private IEnhancedAuthExchange? _authExchange;
    private ConnectPacket? _pendingConnect;
    private string? _authMethod;

    private async Task<bool> HandleAuthAsync(AuthPacket auth, CancellationToken cancellationToken)
    {
        var method = auth.Properties?.AuthenticationMethod;
        if (_authMethod is null || method != _authMethod)
        {
            // [MQTT-4.12.0-7], [MQTT-4.12.1-1] AUTH only with the method of CONNECT.
            throw MqttProtocolException.ProtocolError("AUTH without the authentication method of CONNECT");
        }

        var data = auth.Properties?.AuthenticationData ?? ReadOnlyMemory<byte>.Empty;
        if (auth.ReasonCode == ReasonCode.ReAuthenticate)
        {
            if (!IsConnected || _authExchange is not null)
            {
                throw MqttProtocolException.ProtocolError("re-authentication before the connection was accepted or during an exchange");
            }

            _authExchange = _broker.FindAuthenticator(method)!.Begin(new EnhancedAuthContext(ClientId, _pendingConnect?.Username, _info.RemoteEndPoint, IsReauthentication: true));
        }
        else if (auth.ReasonCode != ReasonCode.ContinueAuthentication || _authExchange is null)
        {
            throw MqttProtocolException.ProtocolError($"unexpected AUTH reason 0x{(byte)auth.ReasonCode:X2}");
        }

        return await StepAsync(data, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> StepAsync(ReadOnlyMemory<byte> clientData, CancellationToken cancellationToken)
    {
        var step = await _authExchange!.StepAsync(clientData, cancellationToken).ConfigureAwait(false);
        switch (step.Outcome)
        {
            case AuthOutcome.Continue:
                SendControl(new AuthPacket
                {
                    ReasonCode = ReasonCode.ContinueAuthentication,
                    Properties = new MqttProperties { AuthenticationMethod = _authMethod, AuthenticationData = step.ServerData },
                });
                return true;

            case AuthOutcome.Success:
                _authExchange = null;
                AuthenticatedUser = step.User;
                if (!IsConnected)
                {
                    return HandleConnect(_pendingConnect!, _authMethod, step.ServerData, step.User ?? _pendingConnect!.Username, null);
                }

                SendControl(new AuthPacket
                {
                    ReasonCode = ReasonCode.Success,
                    Properties = new MqttProperties { AuthenticationMethod = _authMethod, AuthenticationData = step.ServerData },
                });
                return true;

            default:
                _authExchange = null;
                var reason = step.Reason ?? "authentication failed";
                if (!IsConnected)
                {
                    return RefuseAuthentication(ConnectReturnCode.NotAuthorized, ReasonCode.NotAuthorized, reason);
                }

                // Re-authentication failed: the connection ends [MQTT-4.12.1-2].
                _broker.Statistics.AuthenticationFailed();
                _publishWill = true;
                Close("re-authentication failed: " + reason, publishWill: true, ReasonCode.NotAuthorized);
                return false;
        }
    }
}
