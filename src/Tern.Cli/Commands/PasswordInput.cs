using System.Text;

namespace Tern.Cli.Commands;

/// <summary>A password not given on the command line: asked on the terminal, or read from standard input in a script.</summary>
internal static class PasswordInput
{
    /// <summary>Twice on a terminal without echo; from standard input otherwise (first line, and a second one if given must match).</summary>
    public static bool TryRead(out string password, out string error)
    {
        error = "";
        if (Console.IsInputRedirected)
        {
            password = Console.In.ReadLine() ?? "";
            var again = Console.In.ReadLine();
            if (again is not null && again != password)
            {
                error = "The two passwords on standard input differ.";
                return false;
            }

            return true;
        }

        password = Prompt("Password: ");
        var confirm = Prompt("Password again: ");
        if (confirm != password)
        {
            error = "The passwords differ.";
            return false;
        }

        return true;
    }

    private static string Prompt(string prompt)
    {
        // The prompt goes to standard error so that standard output stays clean for scripts.
        Console.Error.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                {
                    text.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return text.ToString();
    }
}
