using Tern.Server.Listeners;

namespace Tern.Server.Dashboard;

/// <summary>What the management endpoints of <c>/api/v5</c> change or show besides the broker itself.</summary>
/// <param name="Listeners">The MQTT listeners, bound.</param>
internal sealed record V5Management(Func<IReadOnlyList<ListenerEndpoint>> Listeners);
