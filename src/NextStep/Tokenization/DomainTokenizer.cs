using System.Text.Json;
using System.Text.Json.Nodes;

namespace NextStep.Tokenization;

/// <summary>
/// Writes a tokenizer.json that keeps a base tokenizer's size, byte tokens, added tokens and settings, but whose
/// merges start with merges learned from domain texts (<see cref="BpeTrainer"/>), so the domain's words are single
/// tokens. The base's own merges follow, in their order, until the vocabulary has the base's size again; ranked
/// after the domain merges, they never split a domain word, and other text still gets multi-byte tokens.
/// </summary>
public static class DomainTokenizer
{
    /// <summary>Writes <c>tokenizer.json</c> and <c>tokenizer_config.json</c> to <paramref name="outFolder"/>; returns the number of domain merges.</summary>
    /// <remarks>A domain that needs more tokens than the base has gets its most frequent merges only.</remarks>
    /// <exception cref="NextStepException">the base tokenizer is unreadable</exception>
    public static int Write(string baseFolder, string outFolder, IEnumerable<string> texts)
    {
        Qwen2Tokenizer.Load(baseFolder); // validates the base files, naming them on error
        string basePath = Path.Combine(baseFolder, "tokenizer.json");
        var (baseVocab, baseMerges) = TokenizerFiles.ReadBpeTables(basePath);
        int size = baseVocab.Count;

        var domain = BpeTrainer.Learn(texts, maxMerges: size - 256);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (char c in ByteLevel.ByteToChar) vocab[c.ToString()] = baseVocab[c.ToString()];
        var freeIds = new Queue<int>(Enumerable.Range(0, size).Where(id => !vocab.ContainsValue(id)));
        var merges = new List<(string Left, string Right)>();
        var seen = new HashSet<(string, string)>();
        void Add((string Left, string Right) m)
        {
            if (!seen.Add(m)) return;
            if (!vocab.ContainsKey(m.Left + m.Right)) vocab[m.Left + m.Right] = freeIds.Dequeue();
            merges.Add(m);
        }
        foreach (var m in domain) Add(m);
        foreach (var m in baseMerges)
            if (vocab.ContainsKey(m.Left) && vocab.ContainsKey(m.Right) && (freeIds.Count > 0 || vocab.ContainsKey(m.Left + m.Right)))
                Add(m);

        var json = JsonNode.Parse(File.ReadAllText(basePath))!.AsObject();
        var model = json["model"]!.AsObject();
        model["vocab"] = new JsonObject(vocab.OrderBy(kv => kv.Value).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        model["merges"] = new JsonArray(merges.Select(m => (JsonNode?)$"{m.Left} {m.Right}").ToArray());
        Directory.CreateDirectory(outFolder);
        File.WriteAllText(Path.Combine(outFolder, "tokenizer.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Copy(Path.Combine(baseFolder, "tokenizer_config.json"), Path.Combine(outFolder, "tokenizer_config.json"), overwrite: true);
        return domain.Count;
    }
}
