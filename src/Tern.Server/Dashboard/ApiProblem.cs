using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Tern.Protocol;

namespace Tern.Server.Dashboard;

/// <summary>
/// Every error of the REST API (<c>/api/v5</c>, <c>/api/dashboard</c>), as RFC 9457 problem details
/// served as <c>application/problem+json</c>. EMQX's <c>code</c> and <c>message</c> are kept as
/// members, so a script written for EMQX reads the same two fields; a refused input adds the
/// <c>field</c> it names (docs/rest-api.md, "Errors").
/// </summary>
internal static class ApiProblem
{
    /// <summary>The media type of RFC 9457.</summary>
    public const string ContentType = "application/problem+json";

    // Relaxed escaping keeps quotes and '+' readable in messages; these documents are only ever
    // served as JSON with nosniff, never embedded in a page.
    private static readonly ApiProblemJsonContext Json = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>
    /// An error with its status, EMQX's <paramref name="code"/> (<c>NOT_FOUND</c>) and one sentence;
    /// <paramref name="field"/> names the request's field (or query parameter) that was refused.
    /// </summary>
    public static IResult Of(int status, string code, string message, string? field = null, ReasonCode? reasonCode = null)
        => TypedResults.Json(
            new ProblemDocument(
                // No page per problem: "about:blank" says the title is the status's phrase, and
                // code tells problems apart, as in EMQX.
                "about:blank",
                ReasonPhrases.GetReasonPhrase(status),
                status,
                message,
                code,
                message,
                field,
                (int?)reasonCode),
            Json.ProblemDocument,
            ContentType,
            status);
}

/// <summary>
/// RFC 9457's members (<c>type</c>, <c>title</c>, <c>status</c>, <c>detail</c>), EMQX's
/// (<c>code</c>, <c>message</c>, the same sentence as <c>detail</c>), the refused <c>field</c>, and
/// the MQTT <c>reason_code</c> of a refused publish.
/// </summary>
internal sealed record ProblemDocument(
    string Type,
    string Title,
    int Status,
    string Detail,
    string Code,
    string Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Field,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ReasonCode);

[JsonSerializable(typeof(ProblemDocument))]
internal sealed partial class ApiProblemJsonContext : JsonSerializerContext;
