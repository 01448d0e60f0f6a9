using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tern.Cli.Commands;

/// <summary>Where the broker's API is and how <c>tern ctl</c> signs in.</summary>
/// <param name="Url">The dashboard's address as given, e.g. <c>http://127.0.0.1:18083</c>.</param>
/// <param name="User">The dashboard user, or an API key.</param>
/// <param name="Password">Its password, or the key's secret.</param>
/// <param name="IsApiKey">True when <paramref name="User"/> is an API key (for the error messages).</param>
internal sealed record CtlSettings(string Url, string User, string Password, bool IsApiKey);

/// <summary>A failure of a <c>tern ctl</c> command: its message is the one line printed on standard error.</summary>
internal sealed class CtlException(string message) : Exception(message);

/// <summary>An answer of the API: its status and its body, as sent.</summary>
internal sealed record CtlAnswer(HttpStatusCode Status, string Body)
{
    /// <summary>The body as JSON; an answer that is not JSON is an error naming the request.</summary>
    public JsonElement Json(string what)
    {
        try
        {
            using var document = JsonDocument.Parse(Body);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new CtlException($"The answer to {what} is not JSON: is --url (TERN_CTL_URL) the broker's dashboard address?");
        }
    }
}

/// <summary>A query string, built from the options that were given.</summary>
internal sealed class CtlQuery
{
    private readonly StringBuilder _text = new();

    /// <summary>Adds <c>name=value</c> when <paramref name="value"/> is not null.</summary>
    public void Add(string name, object? value)
    {
        if (value is null)
        {
            return;
        }

        _text.Append(_text.Length == 0 ? '?' : '&')
            .Append(name)
            .Append('=')
            .Append(Uri.EscapeDataString(Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));
    }

    public override string ToString() => _text.ToString();
}

/// <summary>
/// Sends requests to the broker's REST API with HTTP Basic credentials, and turns every failure
/// (unreachable, refused credentials, not found, bad input) into one <see cref="CtlException"/> line.
/// </summary>
internal sealed class CtlApi : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http;
    private readonly CtlSettings _settings;
    private readonly string _base;

    private CtlApi(HttpClient http, CtlSettings settings, string @base)
    {
        _http = http;
        _settings = settings;
        _base = @base;
    }

    /// <summary>The dashboard's address as given, for messages.</summary>
    public string Url => _settings.Url;

    /// <summary>Checks the URL and prepares a client that signs every request in.</summary>
    public static CtlApi Create(CtlSettings settings)
    {
        if (!Uri.TryCreate(settings.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Query.Length > 0)
        {
            throw new CtlException($"--url (TERN_CTL_URL) must be the dashboard's address such as {CtlCommand.DefaultUrl}, not '{settings.Url}'.");
        }

        var http = new HttpClient { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        var credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{settings.User}:{settings.Password}"));
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", credentials);
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        // A dashboard behind a proxy may live under a path (https://host/tern/): the API is below it.
        return new CtlApi(http, settings, uri.GetLeftPart(UriPartial.Path).TrimEnd('/'));
    }

    /// <summary>GETs <paramref name="path"/> (from <c>/api/...</c>, its parts escaped).</summary>
    public Task<CtlAnswer> GetAsync(string path, CancellationToken ct, Func<string>? notFound = null)
        => SendAsync(HttpMethod.Get, path, null, ct, notFound);

    /// <summary>DELETEs <paramref name="path"/>.</summary>
    public Task<CtlAnswer> DeleteAsync(string path, CancellationToken ct, Func<string>? notFound = null)
        => SendAsync(HttpMethod.Delete, path, null, ct, notFound);

    /// <summary>POSTs a JSON document to <paramref name="path"/>.</summary>
    public Task<CtlAnswer> PostAsync(string path, string json, CancellationToken ct)
        => SendAsync(HttpMethod.Post, path, json, ct, null);

    /// <summary>
    /// Sends one request and returns a successful answer; any other outcome is a <see cref="CtlException"/>.
    /// <paramref name="notFound"/> words a 404 for the thing asked for (e.g. "No client 'x'.").
    /// </summary>
    private async Task<CtlAnswer> SendAsync(HttpMethod method, string path, string? json, CancellationToken ct, Func<string>? notFound)
    {
        var what = $"{method} {path.Split('?')[0]}";
        using var request = new HttpRequestMessage(method, _base + path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        HttpResponseMessage response;
        string body;
        try
        {
            response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new CtlException($"Cannot reach the broker's API at {Url}: {Reason(ex)}. Is 'tern start' running with the dashboard on? (--url, TERN_CTL_URL)");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CtlException($"The broker's API at {Url} did not answer {what} within {Timeout.TotalSeconds:F0} s.");
        }

        using (response)
        {
            var status = response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return new CtlAnswer(status, body);
            }

            var (code, message) = ErrorOf(body);
            throw new CtlException(status switch
            {
                HttpStatusCode.Unauthorized => _settings.IsApiKey
                    ? $"The broker at {Url} refused the API key '{_settings.User}' ({code ?? "401"}): check --api-key (TERN_CTL_API_KEY)."
                    : $"The broker at {Url} refused the credentials of user '{_settings.User}' ({code ?? "401"}): check --user and --password (TERN_CTL_USER, TERN_CTL_PASSWORD), or give --api-key.",
                HttpStatusCode.NotFound when notFound is not null && code is not null => notFound(),
                HttpStatusCode.NotFound => $"The broker at {Url} has no {what} (404): is --url the address of a Tern dashboard with the /api/v5 API?",
                HttpStatusCode.BadRequest when message is not null => message,
                _ => $"The broker at {Url} answered {what} with {(int)status} {response.ReasonPhrase}" + (message is null ? "." : $": {message}"),
            });
        }
    }

    /// <summary>
    /// The <c>code</c> and <c>message</c> of an error, if the body is one: the broker's problem
    /// details (RFC 9457) carry EMQX's two members, and <c>detail</c> when a proxy's lacks them.
    /// </summary>
    private static (string? Code, string? Message) ErrorOf(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, null);
            }

            string? Text(string name) => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            return (Text("code"), Text("message") ?? Text("detail"));
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    /// <summary>Why a connection failed, in a few words ("connection refused").</summary>
    private static string Reason(HttpRequestException ex)
    {
        for (Exception? inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => "connection refused",
                    SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "unknown host",
                    SocketError.TimedOut => "connection timed out",
                    SocketError.NetworkUnreachable or SocketError.HostUnreachable => "no route to the host",
                    _ => socket.Message,
                };
            }
        }

        return ex.HttpRequestError switch
        {
            HttpRequestError.SecureConnectionError => "the TLS handshake failed (http:// or https://?)",
            HttpRequestError.InvalidResponse => "the answer is not HTTP (is --url the dashboard port?)",
            _ => ex.Message.TrimEnd('.'),
        };
    }

    public void Dispose() => _http.Dispose();
}
