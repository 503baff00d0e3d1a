using System.Text;

namespace NextStep.Tokenization;

/// <summary>
/// Learns byte-level BPE merges from texts, the classic way: split each text as the Qwen2 pre-tokenizer does, write
/// each piece in the byte-level alphabet, then repeatedly merge the most frequent adjacent pair (ties: the
/// ordinally smallest pair) everywhere. With <c>minCount</c> 1 it goes on until every piece seen is one token, so a
/// domain's words (the Shapes captions: colours, kinds, numbers, relations) each become a single token.
/// </summary>
internal static class BpeTrainer
{
    public static List<(string Left, string Right)> Learn(IEnumerable<string> texts, int maxMerges, int minCount = 1)
    {
        var words = CountPieces(texts).Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), kv.Value)).ToList();
        var merges = new List<(string, string)>();
        while (merges.Count < maxMerges)
        {
            var pairs = new Dictionary<(string, string), long>();
            foreach (var (symbols, count) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(p => p.Value)
                .ThenBy(p => p.Key.Item1, StringComparer.Ordinal).ThenBy(p => p.Key.Item2, StringComparer.Ordinal).First();
            if (best.Value < minCount) break;
            merges.Add(best.Key);
            foreach (var (symbols, _) in words) Apply(symbols, best.Key);
        }
        return merges;
    }

    /// <summary>How often each pre-tokenized piece (in the byte-level alphabet, after NFC) occurs in the texts.</summary>
    private static Dictionary<string, int> CountPieces(IEnumerable<string> texts)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var pieces = new List<(int Start, int Length)>();
        foreach (var raw in texts)
        {
            var text = raw.Normalize(NormalizationForm.FormC);
            pieces.Clear();
            Qwen2PreTokenizer.Split(text, pieces);
            foreach (var (start, length) in pieces)
            {
                var piece = ToByteLevel(text.AsSpan(start, length));
                counts[piece] = counts.GetValueOrDefault(piece) + 1;
            }
        }
        return counts;
    }

    private static string ToByteLevel(ReadOnlySpan<char> text)
    {
        var bytes = Encoding.UTF8.GetBytes(text.ToArray());
        return new string(bytes.Select(b => ByteLevel.ByteToChar[b]).ToArray());
    }

    private static void Apply(List<string> symbols, (string Left, string Right) merge)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
            if (symbols[i] == merge.Left && symbols[i + 1] == merge.Right)
            {
                symbols[i] = merge.Left + merge.Right;
                symbols.RemoveAt(i + 1);
            }
    }
}
