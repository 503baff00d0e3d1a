using System.Text.Json;
using System.Text.Json.Nodes;
using NextStep.Tests.Support;

namespace NextStep.Tests.Tokenization;

/// <summary>Temporary tokenizer folders made from the tiny model's files, for tests that need an altered file.</summary>
internal static class TokenizerFolders
{
    /// <summary>A fresh folder with the tiny tokenizer.json passed through <paramref name="editTokenizer"/> and tokenizer_config.json through <paramref name="editConfig"/>.</summary>
    public static string Tiny(Action<JsonObject>? editTokenizer = null, Action<JsonObject>? editConfig = null)
    {
        var dir = Directory.CreateTempSubdirectory("nextstep-tok-").FullName;
        Write(Path.Combine(Fixtures.TinyModel, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"), editTokenizer);
        Write(Path.Combine(Fixtures.TinyModel, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"), editConfig);
        return dir;
    }

    public static string WithExtraAddedTokens(JsonElement tokens) =>
        Tiny(t =>
        {
            var list = t["added_tokens"]!.AsArray();
            foreach (var token in tokens.EnumerateArray()) list.Add(JsonNode.Parse(token.GetRawText()));
        });

    private static void Write(string from, string to, Action<JsonObject>? edit)
    {
        if (edit is null) { File.Copy(from, to); return; }
        var root = JsonNode.Parse(File.ReadAllText(from))!.AsObject();
        edit(root);
        File.WriteAllText(to, root.ToJsonString());
    }
}
