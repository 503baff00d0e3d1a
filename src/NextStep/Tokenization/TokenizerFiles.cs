using System.Text.Json;
using NextStep.Config;

namespace NextStep.Tokenization;

/// <summary>What tokenizer.json defines, checked against what this implementation supports.</summary>
internal sealed record TokenizerDefinition(BytePairModel Model, IReadOnlyList<AddedToken> AddedTokens, bool Nfc);

/// <summary>The transformers-level settings of tokenizer_config.json.</summary>
internal sealed record TokenizerSettings(string? BosToken, string? EosToken, string? PadToken, int ModelMaxLength, PaddingSide PaddingSide);

/// <summary>
/// Reads a Hugging Face tokenizer.json of the Qwen2 family (BPE model, NFC normalizer or none, Qwen2 Split regex +
/// ByteLevel pre-tokenizer, ByteLevel decoder) and tokenizer_config.json. Anything else is refused with a message
/// naming the file and the field.
/// </summary>
internal static class TokenizerFiles
{
    public static TokenizerDefinition ReadTokenizerJson(string path)
    {
        var json = JsonConfig.Load(path);

        var model = Object(json.Raw("model"), path, "model");
        var type = OptionalString(model, path, "model", "type");
        if (type is not (null or "BPE"))
            throw new NextStepException($"{path}: model.type is \"{type}\"; only \"BPE\" (byte-level BPE, as in Qwen2) is supported");
        RequireAbsentOr(model, path, "model", "dropout", JsonValueKind.Null);
        RequireAbsentOr(model, path, "model", "unk_token", JsonValueKind.Null);
        RequireAbsentOr(model, path, "model", "byte_fallback", JsonValueKind.False);
        RequireAbsentOr(model, path, "model", "ignore_merges", JsonValueKind.False);
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (OptionalString(model, path, "model", affix) is { Length: > 0 } a)
                throw new NextStepException($"{path}: model.{affix} is \"{a}\"; only an empty one is supported");

        var (vocab, merges) = ReadBpeTables(model, path);
        var bpe = new BytePairModel(vocab, merges, path);

        bool nfc = ReadNormalizer(json.Raw("normalizer"), path);
        CheckPreTokenizer(json.Raw("pre_tokenizer"), path);
        var post = json.Raw("post_processor");
        if (post is { } p && TypeOf(p, path, "post_processor") != "ByteLevel")
            throw new NextStepException($"{path}: post_processor.type is \"{TypeOf(p, path, "post_processor")}\"; only ByteLevel (which adds no tokens) or null is supported");
        var decoder = json.Raw("decoder");
        if (decoder is not { } d || TypeOf(d, path, "decoder") != "ByteLevel")
            throw new NextStepException($"{path}: decoder must be of type \"ByteLevel\", found {(decoder is { } x ? x.GetRawText() : "null")}");

        var added = ReadAddedTokens(json.Raw("added_tokens"), path);
        CheckAddedTokenIds(added, vocab, path);
        return new TokenizerDefinition(bpe, added, nfc);
    }

    /// <summary>The BPE vocabulary and merges (in rank order) of a tokenizer.json, as the file holds them.</summary>
    public static (Dictionary<string, int> Vocab, List<(string Left, string Right)> Merges) ReadBpeTables(string path) =>
        ReadBpeTables(Object(JsonConfig.Load(path).Raw("model"), path, "model"), path);

    private static (Dictionary<string, int>, List<(string, string)>) ReadBpeTables(JsonElement model, string path) =>
        (ReadVocab(Object(Get(model, "vocab"), path, "model.vocab"), path), ReadMerges(Get(model, "merges"), path));

    public static TokenizerSettings ReadTokenizerConfig(string path)
    {
        var json = JsonConfig.Load(path);
        string? Token(string key) => json.Raw(key) switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } s => s.GetString(),
            { ValueKind: JsonValueKind.Object } o when o.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            var other => throw new NextStepException($"{path}: key \"{key}\" must be null, a string or an object with \"content\", found {other.Value.GetRawText()}"),
        };

        // transformers writes a huge float (1e30) when there is no limit.
        int maxLength = json.Raw("model_max_length") switch
        {
            null => int.MaxValue,
            { ValueKind: JsonValueKind.Number } n when n.GetDouble() >= 1 => (int)Math.Min(n.GetDouble(), int.MaxValue),
            var other => throw new NextStepException($"{path}: key \"model_max_length\" must be a positive number, found {other.Value.GetRawText()}"),
        };

        var side = json.StringOrNull("padding_side") switch
        {
            null or "right" => PaddingSide.Right,
            "left" => PaddingSide.Left,
            var other => throw new NextStepException($"{path}: key \"padding_side\" must be \"left\" or \"right\", found \"{other}\""),
        };
        return new TokenizerSettings(Token("bos_token"), Token("eos_token"), Token("pad_token"), maxLength, side);
    }

    private static Dictionary<string, int> ReadVocab(JsonElement vocab, string path)
    {
        var result = new Dictionary<string, int>(vocab.GetPropertyCount(), StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new NextStepException($"{path}: model.vocab[\"{entry.Name}\"] must be a non-negative integer id, found {entry.Value.GetRawText()}");
            result[entry.Name] = id;
        }
        return result;
    }

    private static List<(string, string)> ReadMerges(JsonElement merges, string path)
    {
        if (merges.ValueKind != JsonValueKind.Array)
            throw new NextStepException($"{path}: model.merges must be an array, found {merges.ValueKind}");
        var result = new List<(string, string)>(merges.GetArrayLength());
        foreach (var m in merges.EnumerateArray())
        {
            // Either "left right" (older files) or ["left", "right"].
            if (m.ValueKind == JsonValueKind.String && m.GetString()!.Split(' ') is [var l, var r])
                result.Add((l, r));
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                result.Add((m[0].GetString()!, m[1].GetString()!));
            else
                throw new NextStepException($"{path}: model.merges[{result.Count}] must be \"left right\" or [\"left\", \"right\"], found {m.GetRawText()}");
        }
        return result;
    }

    private static bool ReadNormalizer(JsonElement? normalizer, string path)
    {
        if (normalizer is not { } n) return false;
        var type = TypeOf(n, path, "normalizer");
        return type == "NFC" ? true : throw new NextStepException($"{path}: normalizer.type is \"{type}\"; only \"NFC\" or no normalizer is supported");
    }

    private static void CheckPreTokenizer(JsonElement? pre, string path)
    {
        const string expected = "a Sequence of Split (the Qwen2 pattern, behavior \"Isolated\") and ByteLevel (add_prefix_space false, use_regex false)";
        if (pre is not { } p || TypeOf(p, path, "pre_tokenizer") != "Sequence"
            || !p.TryGetProperty("pretokenizers", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() != 2)
            throw new NextStepException($"{path}: pre_tokenizer must be {expected}, found {(pre is { } x ? x.GetRawText() : "null")}");

        var split = list[0];
        if (TypeOf(split, path, "pre_tokenizer.pretokenizers[0]") != "Split")
            throw new NextStepException($"{path}: pre_tokenizer.pretokenizers[0] must be {expected}");
        var regex = split.TryGetProperty("pattern", out var pat) && pat.ValueKind == JsonValueKind.Object && pat.TryGetProperty("Regex", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        if (regex != Qwen2PreTokenizer.Pattern)
            throw new NextStepException($"{path}: pre_tokenizer.pretokenizers[0].pattern.Regex is {(regex is null ? "missing" : JsonSerializer.Serialize(regex))}; only the Qwen2 pattern {JsonSerializer.Serialize(Qwen2PreTokenizer.Pattern)} is supported");
        if (OptionalString(split, path, "pre_tokenizer.pretokenizers[0]", "behavior") != "Isolated")
            throw new NextStepException($"{path}: pre_tokenizer.pretokenizers[0].behavior must be \"Isolated\"");
        RequireAbsentOr(split, path, "pre_tokenizer.pretokenizers[0]", "invert", JsonValueKind.False);

        var byteLevel = list[1];
        if (TypeOf(byteLevel, path, "pre_tokenizer.pretokenizers[1]") != "ByteLevel")
            throw new NextStepException($"{path}: pre_tokenizer.pretokenizers[1] must be {expected}");
        RequireAbsentOr(byteLevel, path, "pre_tokenizer.pretokenizers[1]", "add_prefix_space", JsonValueKind.False);
        RequireAbsentOr(byteLevel, path, "pre_tokenizer.pretokenizers[1]", "use_regex", JsonValueKind.False);
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement? added, string path)
    {
        var result = new List<AddedToken>();
        if (added is not { } list) return result;
        if (list.ValueKind != JsonValueKind.Array) throw new NextStepException($"{path}: added_tokens must be an array, found {list.ValueKind}");
        int i = 0;
        foreach (var t in list.EnumerateArray())
        {
            string field = $"added_tokens[{i++}]";
            var o = Object(t, path, field);
            if (Get(o, "id") is not { ValueKind: JsonValueKind.Number } idValue || !idValue.TryGetInt32(out int id) || id < 0) throw new NextStepException($"{path}: {field}.id must be a non-negative integer");
            var content = OptionalString(o, path, field, "content");
            if (string.IsNullOrEmpty(content)) throw new NextStepException($"{path}: {field}.content must be a non-empty string");
            bool Flag(string name, bool fallback)
            {
                if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
                return v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
                    : throw new NextStepException($"{path}: {field}.{name} must be true or false, found {v.GetRawText()}");
            }
            // Defaults as in Hugging Face tokenizers' AddedToken.
            result.Add(new AddedToken(id, content, Flag("special", false), Flag("normalized", true), Flag("lstrip", false), Flag("rstrip", false), Flag("single_word", false)));
        }
        return result;
    }

    /// <summary>
    /// Hugging Face tokenizers ignores the ids written in added_tokens: it numbers the tokens itself, in file order
    /// (a token already in the vocabulary keeps its id, a new one takes the next free id). A file whose ids differ
    /// would encode differently there, so it is refused.
    /// </summary>
    private static void CheckAddedTokenIds(List<AddedToken> added, Dictionary<string, int> vocab, string path)
    {
        var assigned = new Dictionary<string, int>(StringComparer.Ordinal);
        int max = -1;
        for (int i = 0; i < added.Count; i++)
        {
            var t = added[i];
            int expected = assigned.TryGetValue(t.Content, out int a) ? a
                : vocab.TryGetValue(t.Content, out int v) ? v
                : max >= vocab.Count ? max + 1 : vocab.Count;
            if (t.Id != expected)
                throw new NextStepException($"{path}: added_tokens[{i}] \"{t.Content}\" has id {t.Id}, but Hugging Face tokenizers would number it {expected} (added tokens take the next free id in file order)");
            assigned[t.Content] = expected;
            max = Math.Max(max, expected);
        }
    }

    private static JsonElement Get(JsonElement obj, string key) =>
        obj.TryGetProperty(key, out var v) ? v : default;

    private static JsonElement Object(JsonElement? e, string path, string field) =>
        e is { ValueKind: JsonValueKind.Object } o ? o
            : throw new NextStepException($"{path}: {field} must be a JSON object, found {(e is { ValueKind: not JsonValueKind.Undefined } x ? x.ValueKind.ToString() : "nothing")}");

    private static string? TypeOf(JsonElement e, string path, string field) =>
        OptionalString(Object(e, path, field), path, field, "type");

    private static string? OptionalString(JsonElement obj, string path, string field, string key)
    {
        if (!obj.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new NextStepException($"{path}: {field}.{key} must be a string, found {v.GetRawText()}");
    }

    private static void RequireAbsentOr(JsonElement obj, string path, string field, string key, JsonValueKind allowed)
    {
        if (obj.TryGetProperty(key, out var v) && v.ValueKind != allowed && v.ValueKind != JsonValueKind.Null)
            throw new NextStepException($"{path}: {field}.{key} is {v.GetRawText()}; only {(allowed == JsonValueKind.False ? "false" : "null")} is supported");
    }
}
