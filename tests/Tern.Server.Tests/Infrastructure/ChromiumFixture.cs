using PuppeteerSharp;

namespace Tern.Server.Tests;

/// <summary>
/// One headless Chromium (Debian package <c>chromium</c>, installed by test.sh) per test class.
/// Never downloads a browser: <c>TERN_CHROMIUM</c> can point at another binary.
/// </summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    private const string DefaultPath = "/usr/bin/chromium";

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var path = Environment.GetEnvironmentVariable("TERN_CHROMIUM") ?? DefaultPath;
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"Chromium is not at {path}: install the Debian package chromium (./test.sh does), or set TERN_CHROMIUM to a Chromium binary.");
        }

        Browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = path,
            Headless = true,

            // Tests run as root, where Chromium's sandbox cannot start; /dev/shm is small in containers.
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            DefaultViewport = new ViewPortOptions { Width = 1280, Height = 800 },
            Timeout = 60_000,
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
            await Browser.DisposeAsync();
        }
    }
}
