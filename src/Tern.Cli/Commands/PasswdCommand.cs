using System.CommandLine;
using Tern.Server.Security;

namespace Tern.Cli.Commands;

/// <summary><c>tern passwd add|remove|list</c>: manages the users file the broker reads (<c>Auth:UsersFile</c>).</summary>
internal static class PasswdCommand
{
    public static Command Create()
    {
        var command = new Command(
            "passwd",
            $"Manage the broker's users file (default {UsersFile.DefaultPath}, config key Auth:UsersFile). "
            + "Passwords are stored as PBKDF2-SHA256 hashes; a running broker picks up changes by itself.")
        {
            CreateAdd(),
            CreateRemove(),
            CreateList(),
        };
        return command;
    }

    private static Option<FileInfo?> FileOption() => new("--file", "-f")
    {
        Description = $"The users file (default {UsersFile.DefaultPath} in the working directory).",
        HelpName = "file",
    };

    private static Argument<string> UserArgument() => new("user") { Description = "The MQTT user name." };

    private static Command CreateAdd()
    {
        var user = UserArgument();
        var file = FileOption();
        var password = new Option<string?>("--password")
        {
            Description = "The password. Without it the password is asked twice on the terminal (not echoed), or read from standard input when that is not a terminal. "
                + "Prefer the prompt: a password on the command line is visible to other users of the machine.",
            HelpName = "password",
        };
        var iterations = new Option<int>("--iterations")
        {
            Description = $"PBKDF2 iterations ({UsersPasswordHash.MinIterations}-{UsersPasswordHash.MaxIterations}; default {UsersPasswordHash.DefaultIterations}).",
            DefaultValueFactory = _ => UsersPasswordHash.DefaultIterations,
        };
        var command = new Command("add", "Add a user, or change the password of an existing one.") { user, file, password, iterations };
        command.SetAction(result => Add(result.GetValue(user)!, PathOf(result.GetValue(file)), result.GetValue(password), result.GetValue(iterations)));
        return command;
    }

    private static Command CreateRemove()
    {
        var user = UserArgument();
        var file = FileOption();
        var command = new Command("remove", "Remove a user.") { user, file };
        command.SetAction(result => Remove(result.GetValue(user)!, PathOf(result.GetValue(file))));
        return command;
    }

    private static Command CreateList()
    {
        var file = FileOption();
        var command = new Command("list", "List the user names, one per line.") { file };
        command.SetAction(result => List(PathOf(result.GetValue(file))));
        return command;
    }

    private static string PathOf(FileInfo? file) => file?.FullName ?? Path.GetFullPath(UsersFile.DefaultPath);

    private static int Add(string username, string path, string? password, int iterations)
    {
        if (!UsersFile.IsValidUsername(username))
        {
            return Fail("The user name must not be empty or contain control characters.");
        }

        if (iterations is < UsersPasswordHash.MinIterations or > UsersPasswordHash.MaxIterations)
        {
            return Fail($"--iterations must be between {UsersPasswordHash.MinIterations} and {UsersPasswordHash.MaxIterations}.");
        }

        if (!TryLoad(path, missingIsEmpty: true, out var users))
        {
            return 1;
        }

        if (password is null && !PasswordInput.TryRead(out password, out var error))
        {
            return Fail(error);
        }

        if (password.Length == 0)
        {
            return Fail("The password must not be empty.");
        }

        var entry = new UsersFileEntry(username, UsersPasswordHash.Hash(password, iterations));
        var index = users.FindIndex(u => u.Username == username);
        if (index >= 0)
        {
            users[index] = entry;
        }
        else
        {
            users.Add(entry);
        }

        if (!TrySave(path, users))
        {
            return 1;
        }

        Console.Error.WriteLine(index >= 0 ? $"Changed the password of '{username}' in {path}." : $"Added '{username}' to {path}.");
        return 0;
    }

    private static int Remove(string username, string path)
    {
        if (!TryLoad(path, missingIsEmpty: false, out var users))
        {
            return 1;
        }

        if (users.RemoveAll(u => u.Username == username) == 0)
        {
            return Fail($"No user '{username}' in {path}.");
        }

        if (!TrySave(path, users))
        {
            return 1;
        }

        Console.Error.WriteLine($"Removed '{username}' from {path}.");
        return 0;
    }

    private static int List(string path)
    {
        if (!TryLoad(path, missingIsEmpty: false, out var users))
        {
            return 1;
        }

        foreach (var user in users)
        {
            Console.Out.WriteLine(user.Username);
        }

        return 0;
    }

    private static bool TryLoad(string path, bool missingIsEmpty, out List<UsersFileEntry> users)
    {
        users = [];
        if (!File.Exists(path))
        {
            if (missingIsEmpty)
            {
                return true;
            }

            Fail($"{path} does not exist; 'tern passwd add' creates it.");
            return false;
        }

        try
        {
            users = [.. UsersFile.Load(path)];
            return true;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Fail(ex.Message);
            return false;
        }
    }

    private static bool TrySave(string path, List<UsersFileEntry> users)
    {
        try
        {
            UsersFile.Save(path, users);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Fail($"Cannot write {path}: {ex.Message}");
            return false;
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 1;
    }
}
