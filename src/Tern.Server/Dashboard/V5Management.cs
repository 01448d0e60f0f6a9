using Tern.Server.Listeners;
using Tern.Server.Persistence;
using Tern.Server.Security;

namespace Tern.Server.Dashboard;

/// <summary>What the management endpoints of <c>/api/v5</c> change or show besides the broker itself.</summary>
/// <param name="ApiKeys">The API keys (<c>api_keys.json</c>).</param>
/// <param name="Users">The users file the CONNECT authenticator follows, or null when there is none.</param>
/// <param name="Acl">The ACL rules managed through the API (<c>acl_rules.json</c>).</param>
/// <param name="Listeners">The MQTT listeners, bound.</param>
/// <param name="PasswordFile">Where a dashboard password changed through the API is kept.</param>
/// <param name="Sessions">The dashboard's browser sessions, ended when the password changes.</param>
/// <param name="StoreMode">How the store was opened (<c>Persistence:Mode</c>): the broker knows its store, not the mode.</param>
internal sealed record V5Management(
    V5ApiKeys ApiKeys,
    UsersStore? Users,
    AclBuiltIn Acl,
    Func<IReadOnlyList<ListenerEndpoint>> Listeners,
    DashboardPasswordFile PasswordFile,
    DashboardSessions Sessions,
    PersistenceMode StoreMode);
