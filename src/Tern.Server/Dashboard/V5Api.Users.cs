using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Server.Security;

namespace Tern.Server.Dashboard;

internal sealed partial class V5Api
{
    /// <summary>EMQX's path of its built-in user database; Tern's is the users file (<c>Auth:UsersFile</c>).</summary>
    private const string UsersPath = "/authentication/password_based:built_in_database/users";

    private static readonly string[] UserFields = ["user_id", "password", "is_superuser"];

    // One writer of the users file at a time: a read-modify-write must not lose another's change.
    private static readonly Lock UsersGate = new();

    private void MapUsers(RouteGroupBuilder api)
    {
        api = api.MapGroup(string.Empty).WithTags("Users");
        api.MapGet(UsersPath, Users);
        api.MapPost(UsersPath, (Func<HttpContext, Task<IResult>>)AddUserAsync);
        api.MapGet(UsersPath + "/{user_id}", User);
        api.MapPut(UsersPath + "/{user_id}", (Func<HttpContext, Task<IResult>>)UpdateUserAsync);
        api.MapDelete(UsersPath + "/{user_id}", DeleteUser);
    }

    /// <summary><c>GET .../users</c>: the users of the users file by name, paged; <c>like_user_id</c> filters.</summary>
    private IResult Users(HttpContext context)
    {
        if (ReadPage(context.Request, out var page, out var limit) is { } pageError)
        {
            return BadRequest(pageError);
        }

        if (management.Users is not { } store)
        {
            return NoUsersFile();
        }

        var like = context.Request.Query["like_user_id"].ToString();
        var users = LoadUsers(store.FilePath)
            .Select(static u => u.Username)
            .Where(u => like.Length == 0 || u.Contains(like, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToArray();
        var data = Slice(users, page, limit).Select(static u => new V5User(u, IsSuperuser: false)).ToArray();
        return Ok(new V5UserPage(data, Meta(page, limit, users.Length)), Json.V5UserPage);
    }

    private IResult User(HttpContext context)
    {
        var userId = context.Request.RouteValues["user_id"] as string ?? "";
        if (management.Users is not { } store)
        {
            return NoUsersFile();
        }

        return LoadUsers(store.FilePath).Any(u => u.Username == userId) ? Ok(new V5User(userId, false), Json.V5User) : NoSuchUser(userId);
    }

    /// <summary><c>POST .../users</c> <c>{"user_id", "password"}</c>: 201; the user can CONNECT at once.</summary>
    private async Task<IResult> AddUserAsync(HttpContext context)
    {
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            if (management.Users is not { } store)
            {
                return NoUsersFile();
            }

            if (ReadUserBody(document.RootElement, requireUserId: true, out var userId, out var password) is { } error)
            {
                return BadRequest(error);
            }

            // The slow hash outside the lock: other writers need not wait for it.
            var hash = UsersPasswordHash.Hash(password);
            lock (UsersGate)
            {
                var users = LoadUsers(store.FilePath);
                if (users.Any(u => u.Username == userId))
                {
                    return Error(StatusCodes.Status409Conflict, "ALREADY_EXISTS", $"user_id: the user '{userId}' already exists; change the password with PUT {Prefix}{UsersPath}/{{user_id}}.");
                }

                SaveUsers(store, [.. users, new UsersFileEntry(userId!, hash)]);
            }

            V5Log.UserChanged(logger, userId!, "added", store.FilePath, context.Connection.RemoteIpAddress?.ToString());
            return TypedResults.Json(new V5User(userId!, false), Json.V5User, statusCode: StatusCodes.Status201Created);
        }
    }

    /// <summary><c>PUT .../users/{user_id}</c> <c>{"password"}</c>: the new password is in force for the next CONNECT.</summary>
    private async Task<IResult> UpdateUserAsync(HttpContext context)
    {
        var userId = context.Request.RouteValues["user_id"] as string ?? "";
        var (document, failure) = await ReadJsonBodyAsync(context, broker.Options).ConfigureAwait(false);
        if (document is null)
        {
            return Error(failure);
        }

        using (document)
        {
            if (management.Users is not { } store)
            {
                return NoUsersFile();
            }

            if (ReadUserBody(document.RootElement, requireUserId: false, out var bodyUserId, out var password) is { } error)
            {
                return BadRequest(error);
            }

            if (bodyUserId is not null && bodyUserId != userId)
            {
                return BadRequest("user_id", $"user_id '{bodyUserId}' differs from the user in the path '{userId}': a user cannot be renamed.");
            }

            var hash = UsersPasswordHash.Hash(password);
            lock (UsersGate)
            {
                var users = LoadUsers(store.FilePath);
                if (!users.Any(u => u.Username == userId))
                {
                    return NoSuchUser(userId);
                }

                SaveUsers(store, [.. users.Select(u => u.Username == userId ? u with { Hash = hash } : u)]);
            }

            V5Log.UserChanged(logger, userId, "given a new password", store.FilePath, context.Connection.RemoteIpAddress?.ToString());
            return Ok(new V5User(userId, false), Json.V5User);
        }
    }

    private IResult DeleteUser(HttpContext context)
    {
        var userId = context.Request.RouteValues["user_id"] as string ?? "";
        if (management.Users is not { } store)
        {
            return NoUsersFile();
        }

        lock (UsersGate)
        {
            var users = LoadUsers(store.FilePath);
            if (!users.Any(u => u.Username == userId))
            {
                return NoSuchUser(userId);
            }

            SaveUsers(store, [.. users.Where(u => u.Username != userId)]);
        }

        V5Log.UserChanged(logger, userId, "deleted", store.FilePath, context.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    /// <summary>The users file as it is now (none while it does not exist).</summary>
    private static IReadOnlyList<UsersFileEntry> LoadUsers(string path)
        => File.Exists(path) ? UsersFile.Load(path) : [];

    /// <summary>Writes the file atomically, then reloads it at once rather than after the watcher's debounce.</summary>
    private static void SaveUsers(UsersStore store, IReadOnlyList<UsersFileEntry> users)
    {
        UsersFile.Save(store.FilePath, users);
        store.Reload(force: true);
    }

    private static FieldError? ReadUserBody(JsonElement root, bool requireUserId, out string? userId, out string password)
    {
        userId = null;
        password = "";
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new FieldError("body", "The request body must be a JSON object such as {\"user_id\": \"sensor-1\", \"password\": \"s3cret\"}.");
        }

        foreach (var property in root.EnumerateObject())
        {
            if (Array.IndexOf(UserFields, property.Name) < 0)
            {
                return new FieldError(property.Name, $"Unknown field '{property.Name}'; the fields are {string.Join(", ", UserFields)}.");
            }
        }

        if (root.TryGetProperty("user_id", out var idElement))
        {
            userId = idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
            if (!UsersFile.IsValidUsername(userId))
            {
                return new FieldError("user_id", $"user_id must be a non-empty string without control characters, not {idElement.GetRawText()}.");
            }
        }
        else if (requireUserId)
        {
            return new FieldError("user_id", "user_id is required: the MQTT user name.");
        }

        if (!root.TryGetProperty("password", out var passwordElement) || passwordElement.ValueKind != JsonValueKind.String || passwordElement.GetString() is not { Length: > 0 } given)
        {
            return new FieldError("password", "password is required: a non-empty string.");
        }

        password = given;
        if (root.TryGetProperty("is_superuser", out var superElement) && superElement.ValueKind != JsonValueKind.False)
        {
            return new FieldError("is_superuser", "is_superuser must be false: Tern has no superusers; grant access with ACL rules instead.");
        }

        return null;
    }

    private static IResult NoSuchUser(string userId)
        => Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"user_id: no user '{userId}' in the users file.");

    private static IResult NoUsersFile()
        => Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"There is no users file ({AuthSetup.UsersFileKey}).");
}
