using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace NextStep.Server.Api;

/// <summary>Typed access to request parameters from a JSON object or a multipart form, with errors naming the parameter.</summary>
public abstract class RequestFields
{
    public abstract IEnumerable<string> Names { get; }
    protected abstract bool TryRaw(string name, out object raw);

    public string? String(string name)
    {
        if (!TryRaw(name, out var raw)) return null;
        return raw switch
        {
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
            JsonElement { ValueKind: JsonValueKind.Null } => null,
            _ => throw ApiException.Invalid(name, $"'{name}' must be a string"),
        };
    }

    public long? Integer(string name, long min, long max)
    {
        if (!TryRaw(name, out var raw)) return null;
        long? v = raw switch
        {
            string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
            JsonElement { ValueKind: JsonValueKind.Number } e when e.TryGetInt64(out var l) => l,
            JsonElement { ValueKind: JsonValueKind.Null } => null,
            _ => throw ApiException.Invalid(name, $"'{name}' must be an integer between {min} and {max}"),
        };
        if (v is { } x && (x < min || x > max)) throw ApiException.Invalid(name, $"'{name}' must be between {min} and {max}, got {x}");
        return v;
    }

    public double? Number(string name, double min, double max)
    {
        if (!TryRaw(name, out var raw)) return null;
        double? v = raw switch
        {
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            JsonElement { ValueKind: JsonValueKind.Number } e => e.GetDouble(),
            JsonElement { ValueKind: JsonValueKind.Null } => null,
            _ => throw ApiException.Invalid(name, $"'{name}' must be a number between {min} and {max}"),
        };
        if (v is { } x && (!double.IsFinite(x) || x < min || x > max)) throw ApiException.Invalid(name, $"'{name}' must be between {min} and {max}, got {x}");
        return v;
    }

    public bool? Bool(string name)
    {
        if (!TryRaw(name, out var raw)) return null;
        return raw switch
        {
            "true" or "on" or "1" => true,
            "false" or "off" or "0" => false,
            JsonElement { ValueKind: JsonValueKind.True } => true,
            JsonElement { ValueKind: JsonValueKind.False } => false,
            JsonElement { ValueKind: JsonValueKind.Null } => null,
            _ => throw ApiException.Invalid(name, $"'{name}' must be true or false"),
        };
    }

    /// <summary>Parses a JSON request body (size already limited by the caller).</summary>
    public static async Task<RequestFields> FromJson(HttpRequest request)
    {
        JsonDocument doc;
        try
        {
            doc = await JsonDocument.ParseAsync(request.Body, default, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            throw new ApiException(400, $"request body is not valid JSON: {e.Message}", code: "invalid_json");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ApiException(400, "request body must be a JSON object", code: "invalid_json");
        return new Json(doc.RootElement);
    }

    public static RequestFields FromForm(IFormCollection form) => new Form(form);

    private sealed class Json(JsonElement root) : RequestFields
    {
        public override IEnumerable<string> Names => root.EnumerateObject().Select(p => p.Name);
        protected override bool TryRaw(string name, out object raw)
        {
            var found = root.TryGetProperty(name, out var e);
            raw = e;
            return found;
        }
    }

    private sealed class Form(IFormCollection form) : RequestFields
    {
        public override IEnumerable<string> Names => form.Keys.Concat(form.Files.Select(f => f.Name));
        protected override bool TryRaw(string name, out object raw)
        {
            var found = form.TryGetValue(name, out var v) && v.Count > 0;
            raw = found ? v.ToString() : "";
            return found;
        }
    }
}
