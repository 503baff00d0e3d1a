using System.Text.Json;

namespace NextStep.Config;

/// <summary>Typed access to a JSON object read from a config file; every error names the file and the key.</summary>
internal sealed class JsonConfig
{
    private readonly JsonElement _root;
    public string Path { get; }

    private JsonConfig(string path, JsonElement root) { Path = path; _root = root; }

    public static JsonConfig Load(string path)
    {
        if (!File.Exists(path)) throw new NextStepException($"{path}: file not found");
        long length = FileSize.Of(path);
        if (length > 16 * 1024 * 1024) throw new NextStepException($"{path}: {length} bytes is too large for a config file (limit 16 MiB)");
        var bytes = File.ReadAllBytes(path);
        try { _ = new System.Text.UTF8Encoding(false, true).GetCharCount(bytes); }
        catch (System.Text.DecoderFallbackException) { throw new NextStepException($"{path}: not valid UTF-8 text"); }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new NextStepException($"{path}: not valid JSON ({e.Message})"); }
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new NextStepException($"{path}: expected a JSON object at the top level, found {doc.RootElement.ValueKind}");
        CheckStrings(doc.RootElement, path);
        return new JsonConfig(path, doc.RootElement.Clone());
    }

    /// <summary>
    /// Refuses strings and keys that cannot be read as text: the parser accepts an escaped lone surrogate
    /// (<c>"\ud800"</c>), but reading it later throws. Every string is checked here, once, so readers need not.
    /// </summary>
    internal static void CheckStrings(JsonElement root, string path)
    {
        var where = new List<string>();
        void Walk(JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject())
                    {
                        Read(() => p.Name);
                        where.Add(p.Name);
                        Walk(p.Value);
                        where.RemoveAt(where.Count - 1);
                    }
                    break;
                case JsonValueKind.Array:
                    int i = 0;
                    foreach (var item in e.EnumerateArray())
                    {
                        where.Add($"[{i++}]");
                        Walk(item);
                        where.RemoveAt(where.Count - 1);
                    }
                    break;
                case JsonValueKind.String:
                    Read(e.GetString);
                    break;
            }
        }
        void Read(Func<string?> read)
        {
            try { read(); }
            catch (InvalidOperationException)
            {
                throw new NextStepException($"{path}: a string {(where.Count == 0 ? "at the top level" : $"under \"{string.Join("/", where)}\"")} contains an unpaired surrogate escape (such as \\ud800), which is not valid Unicode text");
            }
        }
        Walk(root);
    }

    /// <summary>The raw JSON value of a key, or null when the key is missing or null.</summary>
    public JsonElement? Raw(string key) => Has(key) ? _root.GetProperty(key) : null;

    public bool Has(string key) => _root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    private JsonElement Get(string key)
    {
        if (!_root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null)
            throw new NextStepException($"{Path}: required key \"{key}\" is missing");
        return v;
    }

    public int Int(string key) => Convert(key, Get(key), e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var i) ? i : (int?)null, "an integer");
    public int Int(string key, int fallback) => Has(key) ? Int(key) : fallback;
    public int? IntOrNull(string key) => Has(key) ? Int(key) : null;
    public double Double(string key) => Convert(key, Get(key), e => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : (double?)null, "a number");
    public double Double(string key, double fallback) => Has(key) ? Double(key) : fallback;
    public bool Bool(string key, bool fallback) => Has(key) ? Convert(key, Get(key), e => e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : (bool?)null, "true or false") : fallback;
    public string? StringOrNull(string key) => Has(key) ? Convert(key, Get(key), e => e.ValueKind == JsonValueKind.String ? e.GetString() : null, "a string") : null;

    public int[] IntArray(string key)
    {
        var v = Get(key);
        if (v.ValueKind != JsonValueKind.Array) throw new NextStepException($"{Path}: key \"{key}\" must be an array of integers, found {v.ValueKind}");
        return v.EnumerateArray().Select(e => Convert(key, e, x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var i) ? i : (int?)null, "an array of integers")).ToArray();
    }
    public int[] IntArray(string key, int[] fallback) => Has(key) ? IntArray(key) : fallback;

    private T Convert<T>(string key, JsonElement e, Func<JsonElement, T?> f, string expected) where T : struct
        => (e.ValueKind == JsonValueKind.Number || e.ValueKind is JsonValueKind.True or JsonValueKind.False) && f(e) is T t
            ? t : throw new NextStepException($"{Path}: key \"{key}\" must be {expected}, found {e.GetRawText()}");

    private string Convert(string key, JsonElement e, Func<JsonElement, string?> f, string expected)
        => f(e) ?? throw new NextStepException($"{Path}: key \"{key}\" must be {expected}, found {e.GetRawText()}");
}
