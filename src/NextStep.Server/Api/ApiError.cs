using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace NextStep.Server.Api;

/// <summary>A request the server refuses, reported in the OpenAI error shape.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public string Type { get; } = type;

    public static ApiException Invalid(string param, string message) => new(400, message, param, "invalid_value");
}

public static class ApiError
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary><c>{"error":{"message","type","param","code"}}</c></summary>
    public static Task Write(HttpContext ctx, int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { message, type, param, code } }, Json));
    }

    public static Task Write(HttpContext ctx, ApiException e) => Write(ctx, e.Status, e.Message, e.Param, e.Code, e.Type);

    /// <summary>Default messages for status codes produced by routing and Kestrel (404, 405, 413, 415...).</summary>
    public static (string Message, string Code) ForStatus(int status) => status switch
    {
        400 => ("bad request", "bad_request"),
        401 => ("missing or invalid API key", "invalid_api_key"),
        404 => ("no such endpoint or resource", "not_found"),
        405 => ("method not allowed on this endpoint", "method_not_allowed"),
        408 => ("request timed out", "timeout"),
        413 => ("request body too large", "request_too_large"),
        415 => ("unsupported content type", "unsupported_media_type"),
        431 => ("request headers too large", "headers_too_large"),
        _ => ("request failed", "error"),
    };
}
