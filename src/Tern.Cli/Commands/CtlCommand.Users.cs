using System.CommandLine;
using Spectre.Console;
using System.Text.Json.Nodes;

namespace Tern.Cli.Commands;

internal static partial class CtlCommand
{
    /// <summary>EMQX's path of its built-in user database; Tern's is the broker's users file (<c>Auth:UsersFile</c>).</summary>
    private const string UsersPath = "/api/v5/authentication/password_based:built_in_database/users";

    private static Command CreateUsers() => new("users", "The MQTT users of the broker's users file (Auth:UsersFile): a change is in force for the next CONNECT.")
    {
        CreateUsersList(),
        CreateUsersAdd(),
        CreateUsersPasswd(),
        CreateUsersDelete(),
    };

    private static string UserPath(string user) => $"{UsersPath}/{Uri.EscapeDataString(user)}";

    private static string NoUser(string user) => $"No user '{user}' in the broker's users file.";

    /// <summary>
    /// The password flag of <c>users add</c> and <c>users passwd</c>; without it, the terminal or standard input.
    /// Not <c>--password</c>: that is the dashboard's, given before or after the subcommand alike.
    /// </summary>
    private static Option<string?> UserPasswordOption() => new("--mqtt-password")
    {
        Description = "The MQTT user's password. Without it the password is asked twice on the terminal (not echoed), or read from standard input when that is not a terminal. "
            + "Prefer the prompt: a password on the command line is visible to other users of the machine.",
        HelpName = "password",
    };

    /// <summary>The user's password from <paramref name="option"/>, else asked for; never empty.</summary>
    private static string UserPassword(ParseResult result, Option<string?> option)
    {
        var password = result.GetValue(option);
        if (password is null && !PasswordInput.TryRead(out password, out var error))
        {
            throw new CtlException(error);
        }

        return password.Length > 0 ? password : throw new CtlException("The password must not be empty.");
    }

    private static Command CreateUsersList()
    {
        var page = new PageOptions();
        var like = new Option<string?>("--like") { Description = "Only user names that contain this text.", HelpName = "text" };
        var command = new Command("list", $"List the users by name (GET {UsersPath}).") { like };
        page.AddTo(command);
        SetAction(command, async (result, api, output, ct) =>
        {
            var query = new CtlQuery();
            query.Add("like_user_id", result.GetValue(like));
            page.AddTo(query, result);
            var answer = await api.GetAsync(UsersPath + query, ct).ConfigureAwait(false);
            var users = answer.Json("GET " + UsersPath);
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
                return 0;
            }

            var table = CtlOutput.NewTable("user");
            foreach (var user in users.GetProperty("data").EnumerateArray())
            {
                CtlOutput.AddRow(table, CtlOutput.Text(user, "user_id"));
            }

            table.Caption(CtlOutput.PageCaption(users, "user") ?? "");
            output.Write(table);
            return 0;
        });
        return command;
    }

    private static Command CreateUsersAdd()
    {
        var user = new Argument<string>("user") { Description = "The MQTT user name." };
        var password = UserPasswordOption();
        var command = new Command("add", $"Add a user (POST {UsersPath}); it can CONNECT at once.") { user, password };
        SetAction(command, async (result, api, output, ct) =>
        {
            var name = result.GetValue(user)!;
            var body = new JsonObject { ["user_id"] = name, ["password"] = UserPassword(result, password) };
            var answer = await api.PostAsync(UsersPath, body.ToJsonString(), ct,
                () => $"The user '{name}' exists already: change its password with 'tern ctl users passwd {name}'.").ConfigureAwait(false);
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
            }

            CtlOutput.Confirm($"Added the user '{name}'.");
            return 0;
        });
        return command;
    }

    private static Command CreateUsersPasswd()
    {
        var user = new Argument<string>("user") { Description = "The MQTT user name." };
        var password = UserPasswordOption();
        var command = new Command("passwd", $"Give a user a new password (PUT {UsersPath}/{{user_id}}); the old one no longer lets a client CONNECT.") { user, password };
        SetAction(command, async (result, api, output, ct) =>
        {
            var name = result.GetValue(user)!;
            var body = new JsonObject { ["password"] = UserPassword(result, password) };
            var answer = await api.PutAsync(UserPath(name), body.ToJsonString(), ct, () => NoUser(name)).ConfigureAwait(false);
            if (output.IsJson)
            {
                CtlOutput.WriteJson(answer);
            }

            CtlOutput.Confirm($"Changed the password of '{name}'.");
            return 0;
        });
        return command;
    }

    private static Command CreateUsersDelete()
    {
        var user = new Argument<string>("user") { Description = "The MQTT user name." };
        var command = new Command("delete", $"Delete a user (DELETE {UsersPath}/{{user_id}}); it can no longer CONNECT.") { user };
        SetAction(command, async (result, api, output, ct) =>
        {
            var name = result.GetValue(user)!;
            await api.DeleteAsync(UserPath(name), ct, () => NoUser(name)).ConfigureAwait(false);
            CtlOutput.Confirm($"Deleted the user '{name}'.");
            return 0;
        });
        return command;
    }
}
