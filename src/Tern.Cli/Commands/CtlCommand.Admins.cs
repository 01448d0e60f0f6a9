using System.CommandLine;
using System.Text.Json.Nodes;

namespace Tern.Cli.Commands;

internal static partial class CtlCommand
{
    private static Command CreateAdmins() => new("admins", "The dashboard's user (Dashboard:Username), as EMQX's 'emqx ctl admins'.")
    {
        CreateAdminsPasswd(),
    };

    private static Command CreateAdminsPasswd()
    {
        var user = new Argument<string?>("user")
        {
            Description = "The dashboard user; default the one tern ctl logs in as (--user).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var newPassword = new Option<string?>("--new-password")
        {
            Description = "The new password (8 to 64 characters, two kinds of letters, digits and others at least). Without it the password is asked twice on the terminal (not echoed), "
                + "or read from standard input when that is not a terminal. Prefer the prompt: a password on the command line is visible to other users of the machine.",
            HelpName = "password",
        };
        var oldPassword = new Option<string?>("--old-password")
        {
            Description = "The current password; default the one tern ctl logs in with (--password). Needed with --api-key.",
            HelpName = "password",
        };
        var command = new Command(
            "passwd",
            "Change the dashboard password (POST /api/v5/users/{username}/change_pwd): it is kept by the broker across restarts, bearer tokens and other dashboard sessions end, API keys stay valid.")
        {
            user, newPassword, oldPassword,
        };
        SetAction(command, async (result, api, output, ct) =>
        {
            var settings = api.Settings;
            var name = result.GetValue(user) ?? (settings.IsApiKey
                ? throw new CtlException("With --api-key, name the dashboard user: tern ctl admins passwd USER --old-password ...")
                : settings.User);
            var old = result.GetValue(oldPassword) ?? (settings.IsApiKey
                ? throw new CtlException("With --api-key, give the current password with --old-password.")
                : settings.Password);
            var replacement = result.GetValue(newPassword);
            if (replacement is null && !PasswordInput.TryRead(out replacement, out var error))
            {
                throw new CtlException(error);
            }

            var body = new JsonObject { ["old_pwd"] = old, ["new_pwd"] = replacement };
            await api.PostAsync($"/api/v5/users/{Uri.EscapeDataString(name)}/change_pwd", body.ToJsonString(), ct,
                notFound: () => $"No dashboard user '{name}': the dashboard's user is Dashboard:Username.").ConfigureAwait(false);
            CtlOutput.Confirm($"Changed the dashboard password of '{name}'. Log in with the new one from now on (--password, TERN_CTL_PASSWORD); API keys stay valid.");
            return 0;
        });
        return command;
    }
}
