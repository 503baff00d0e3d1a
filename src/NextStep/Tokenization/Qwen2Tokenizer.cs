using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;

namespace NextStep.Tokenization;

/// <summary>
/// The Qwen2/Qwen2.5 byte-level BPE tokenizer with NextStep's added tokens, loaded from a model folder's
/// tokenizer.json and tokenizer_config.json. Ids and decoded text are the same as Hugging Face tokenizers'
/// (checked against ids it produced). Thread-safe after loading.
/// </summary>
/// <remarks>
/// <para>Encoding: added tokens are found first (leftmost-longest, honouring special/normalized/lstrip/rstrip/single_word);
/// the text between them is NFC-normalized (when tokenizer.json has that normalizer), split by the Qwen2 pre-tokenizer
/// pattern and encoded by BPE, piece by piece. Invalid UTF-16 (a lone surrogate) is replaced by U+FFFD first, as a
/// UTF-8 encoder does, so it becomes the token for the bytes EF BF BD.</para>
/// <para>Known limit: NFC uses .NET's Unicode data (the system ICU on Linux). Checked over every code point alone and
/// followed by combining marks against Hugging Face tokenizers 0.23.2, it differs only in the canonical order of a
/// few dozen recently encoded combining marks of rare scripts (for example U+0897–U+089E, U+10D24–U+10D27,
/// U+1E4EC–U+1E4EF) when they stand next to other combining marks (ICU 72 here).</para>
/// <para>The Qwen2 post-processor adds no token, so <c>addSpecialTokens</c> changes nothing for these files (no BOS,
/// no EOS); a caller that needs the BOS string (NextStep-1.1) prepends <see cref="BosToken"/> to the text itself.</para>
/// <para>Why not Microsoft.ML.Tokenizers 2.0.1 (BpeTokenizer with ByteLevel, this vocabulary, merges and added tokens
/// as special tokens, a RegexPreTokenizer with the Qwen2 pattern and an NFC normalizer): it gave the right ids for the 35
/// reference prompts and the 1 MB benchmark text, but (1) it has no non-special added tokens, so decoding with special
/// tokens skipped also drops &lt;tool_call&gt;/&lt;/tool_call&gt; (2 of the reference decodes wrong); (2) a lone surrogate
/// throws in the NFC step, or without a normalizer is encoded as other bytes than U+FFFD; (3) it does not read
/// tokenizer.json or the lstrip/rstrip/single_word/normalized flags of added tokens.</para>
/// </remarks>
public sealed class Qwen2Tokenizer
{
    private readonly BytePairModel _model;
    private readonly bool _nfc;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly Dictionary<string, AddedToken> _addedByContent;
    private readonly AddedTokenMatcher _rawMatcher;
    private readonly AddedTokenMatcher _normalizedMatcher;

    private Qwen2Tokenizer(TokenizerDefinition definition, TokenizerSettings settings, string configPath)
    {
        _model = definition.Model;
        _nfc = definition.Nfc;
        _addedById = new();
        _addedByContent = new(StringComparer.Ordinal);
        foreach (var t in definition.AddedTokens) { _addedById[t.Id] = t; _addedByContent[t.Content] = t; }
        AddedTokens = definition.AddedTokens;
        _rawMatcher = new AddedTokenMatcher(AddedTokens.Where(t => !t.Normalized), t => t.Content);
        _normalizedMatcher = new AddedTokenMatcher(AddedTokens.Where(t => t.Normalized), t => Normalize(t.Content));
        VocabSize = Math.Max(_model.Size, AddedTokens.Count == 0 ? 0 : AddedTokens.Max(t => t.Id) + 1);

        int? Resolve(string? token, string key) => token is null ? null
            : TokenToId(token) ?? throw new NextStepException($"{configPath}: {key} \"{token}\" is not a token of the tokenizer");
        BosToken = settings.BosToken;
        BosTokenId = Resolve(BosToken, "bos_token");
        EosToken = settings.EosToken;
        EosTokenId = Resolve(EosToken, "eos_token");
        PadToken = settings.PadToken ?? (TokenToId("[PAD]") is null ? null : "[PAD]")
            ?? throw new NextStepException($"{configPath}: no pad_token is set and the tokenizer has no \"[PAD]\" token; batches cannot be padded");
        PadTokenId = Resolve(PadToken, "pad_token")!.Value;
        ModelMaxLength = settings.ModelMaxLength;
        PaddingSide = settings.PaddingSide;
    }

    /// <summary>Loads <c>tokenizer.json</c> and <c>tokenizer_config.json</c> from a model folder.</summary>
    /// <exception cref="NextStepException">a file is missing or malformed, or uses a feature outside the Qwen2 family</exception>
    public static Qwen2Tokenizer Load(string modelFolder)
    {
        var tokenizerJson = Path.Combine(modelFolder, "tokenizer.json");
        var configJson = Path.Combine(modelFolder, "tokenizer_config.json");
        if (!Directory.Exists(modelFolder)) throw new NextStepException($"{modelFolder}: model folder not found");
        var settings = TokenizerFiles.ReadTokenizerConfig(configJson);
        return new Qwen2Tokenizer(TokenizerFiles.ReadTokenizerJson(tokenizerJson), settings, configJson);
    }

    /// <summary>Number of token ids, added tokens included (151674 for NextStep-1's tokenizer).</summary>
    public int VocabSize { get; }

    /// <summary>tokenizer_config.json's bos_token (null for NextStep-1; set for some NextStep-1.1 configs).</summary>
    public string? BosToken { get; }
    public int? BosTokenId { get; }
    public string? EosToken { get; }
    public int? EosTokenId { get; }

    /// <summary>The pad token: tokenizer_config.json's pad_token, else "[PAD]".</summary>
    public string PadToken { get; }
    public int PadTokenId { get; }

    /// <summary>tokenizer_config.json's model_max_length (int.MaxValue when unset).</summary>
    public int ModelMaxLength { get; }

    /// <summary>tokenizer_config.json's padding_side (right when unset, as in transformers).</summary>
    public PaddingSide PaddingSide { get; }

    /// <summary>The added tokens of tokenizer.json, in file order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>The id of a token string (an added token's content, or a byte-level vocabulary entry such as "Ġcat").</summary>
    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out var added) ? added.Id : _model.TokenToId(token);

    /// <summary>The token string of an id, or null when no token has that id.</summary>
    public string? IdToToken(int id) =>
        _addedById.TryGetValue(id, out var added) ? added.Content : _model.IdToToken(id);

    /// <summary>Token ids of <paramref name="text"/>, as Hugging Face tokenizers' <c>encode(text, add_special_tokens)</c>.</summary>
    /// <param name="addSpecialTokens">kept for parity with Hugging Face; the Qwen2 post-processor adds nothing either way</param>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        var segments = new List<(int Start, int Length, AddedToken? Token)>();
        var inner = new List<(int Start, int Length, AddedToken? Token)>();
        var pieces = new List<(int Start, int Length)>();

        text = ReplaceLoneSurrogates(text);
        _rawMatcher.Split(text, segments);
        foreach (var (start, length, token) in segments)
        {
            if (token is not null) { ids.Add(token.Id); continue; }
            var normalized = Normalize(text.Substring(start, length));
            inner.Clear();
            _normalizedMatcher.Split(normalized, inner);
            foreach (var (s, l, t) in inner)
            {
                if (t is not null) { ids.Add(t.Id); continue; }
                var span = normalized.AsSpan(s, l);
                pieces.Clear();
                Qwen2PreTokenizer.Split(span, pieces);
                foreach (var (ps, pl) in pieces) _model.Encode(span.Slice(ps, pl), ids);
            }
        }
        return ids.ToArray();
    }

    /// <summary>
    /// Text of token ids, as Hugging Face tokenizers' <c>decode(ids, skip_special_tokens)</c>: the tokens' bytes are
    /// joined and read as UTF-8, an incomplete or invalid byte sequence becoming U+FFFD.
    /// </summary>
    /// <param name="skipSpecialTokens">leave out added tokens marked special ([PAD], &lt;|image_placeholder|&gt;, …); non-special added tokens stay</param>
    /// <exception cref="NextStepException">an id that no token has</exception>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (_addedById.TryGetValue(id, out var added))
            {
                if (!(skipSpecialTokens && added.Special)) ByteLevel.AppendBytes(added.Content, bytes);
                continue;
            }
            var token = _model.IdToToken(id) ?? throw new NextStepException($"token id {id} is not in the vocabulary (ids 0..{VocabSize - 1})");
            ByteLevel.AppendBytes(token, bytes);
        }
        return Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>
    /// Encodes several texts and pads them to the longest with <see cref="PadTokenId"/>, as transformers'
    /// <c>tokenizer(texts, padding="longest", truncation=...)</c>. A text longer than <see cref="ModelMaxLength"/> gives
    /// a warning in the result; with <paramref name="truncation"/> it is also cut to its first ModelMaxLength tokens.
    /// </summary>
    /// <param name="paddingSide">where pads go; null: tokenizer_config.json's padding_side (NextStep inference uses left)</param>
    public BatchEncoding EncodeBatch(IReadOnlyList<string> texts, bool truncation = false, PaddingSide? paddingSide = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var side = paddingSide ?? PaddingSide;
        var warnings = new List<string>();
        var rows = new int[texts.Count][];
        for (int r = 0; r < texts.Count; r++)
        {
            var ids = Encode(texts[r]);
            if (ids.Length > ModelMaxLength)
            {
                warnings.Add(truncation
                    ? $"text {r}: {ids.Length} tokens is longer than model_max_length {ModelMaxLength}; truncated to the first {ModelMaxLength} tokens"
                    : $"text {r}: {ids.Length} tokens is longer than model_max_length {ModelMaxLength} (truncation is off; the model may not handle it)");
                if (truncation) ids = ids[..ModelMaxLength];
            }
            rows[r] = ids;
        }

        int length = rows.Length == 0 ? 0 : rows.Max(r => r.Length);
        var inputIds = new long[rows.Length, length];
        var mask = new long[rows.Length, length];
        for (int r = 0; r < rows.Length; r++)
        {
            int offset = side == PaddingSide.Left ? length - rows[r].Length : 0;
            for (int p = 0; p < length; p++) inputIds[r, p] = PadTokenId;
            for (int p = 0; p < rows[r].Length; p++) { inputIds[r, offset + p] = rows[r][p]; mask[r, offset + p] = 1; }
        }
        return new BatchEncoding(inputIds, mask, warnings);
    }

    /// <summary>BMP noncharacters: .NET's normalization rejects U+FFFE; none of them ever combines with a neighbour.</summary>
    private static readonly SearchValues<char> Noncharacters =
        SearchValues.Create("\uFFFE\uFFFF" + new string(Enumerable.Range(0xFDD0, 32).Select(c => (char)c).ToArray()));

    /// <summary>
    /// NFC when tokenizer.json asks for it, with .NET's Unicode data (ICU on Linux). The text is normalized piecewise
    /// around noncharacters, which gives the same result because they never compose or reorder.
    /// </summary>
    private string Normalize(string text)
    {
        if (!_nfc) return text;
        int cut = text.AsSpan().IndexOfAny(Noncharacters);
        if (cut < 0) return Nfc(text);
        var sb = new StringBuilder(text.Length);
        int start = 0;
        for (; cut >= 0; cut = text.AsSpan(start).IndexOfAny(Noncharacters))
        {
            sb.Append(Nfc(text.Substring(start, cut))).Append(text[start + cut]);
            start += cut + 1;
        }
        return sb.Append(Nfc(text[start..])).ToString();
    }

    private static string Nfc(string text) =>
        text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);

    /// <summary>Each unpaired surrogate becomes U+FFFD (what UTF-8 encoding does with it).</summary>
    private static string ReplaceLoneSurrogates(string text)
    {
        int i = 0;
        while (i < text.Length && !char.IsSurrogate(text[i])) i++;
        if (i == text.Length) return text;
        var sb = new StringBuilder(text.Length).Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { sb.Append(c).Append(text[++i]); continue; }
            sb.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
        }
        return sb.ToString();
    }
}
