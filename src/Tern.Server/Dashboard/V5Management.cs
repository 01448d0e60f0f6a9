using Tern.Server.Listeners;

namespace Tern.Server.Dashboard;

/// <summary>What the management endpoints of <c>/api/v5</c> change or show besides the broker itself.</summary>
/// <param name="ApiKeys">The API keys (<c>api_keys.json</c>).</param>
/// <param name="Listeners">The MQTT listeners, bound.</param>
internal sealed record V5Management(V5ApiKeys ApiKeys, Func<IReadOnlyList<ListenerEndpoint>> Listeners);
