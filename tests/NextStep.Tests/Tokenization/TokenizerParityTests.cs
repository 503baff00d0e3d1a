using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NextStep.Bench;
using NextStep.Tests.Support;
using NextStep.Tokenization;
using Xunit;

namespace NextStep.Tests.Tokenization;

/// <summary>Ids, tokens and decodes against Hugging Face tokenizers (Rust core) on the shared fixtures.</summary>
public class TokenizerParityTests
{
    internal static readonly Lazy<Qwen2Tokenizer> Real = new(() => Qwen2Tokenizer.Load(Fixtures.Path("tokenizer")));
    private static readonly Lazy<Qwen2Tokenizer> Tiny = new(() => Qwen2Tokenizer.Load(Fixtures.TinyModel));

    private static JsonElement ReadJson(params string[] path) => JsonDocument.Parse(File.ReadAllBytes(Fixtures.Path(path))).RootElement;
    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public static TheoryData<int> CaseIndices() => new(Enumerable.Range(0, ReadJson("tokenizer", "cases.json").GetProperty("cases").GetArrayLength()));

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void RealTokenizerMatchesReferenceCase(int index)
    {
        var c = ReadJson("tokenizer", "cases.json").GetProperty("cases")[index];
        var tok = Real.Value;
        var text = c.GetProperty("text").GetString()!;
        var expected = Ints(c.GetProperty("ids"));

        var ids = tok.Encode(text);
        Assert.Equal(expected, ids);
        Assert.Equal(expected, tok.Encode(text, addSpecialTokens: false));
        Assert.Equal(c.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()), ids.Select(tok.IdToToken));
        Assert.Equal(c.GetProperty("decoded").GetString(), tok.Decode(expected));
        Assert.Equal(c.GetProperty("decoded_skip_special").GetString(), tok.Decode(expected, skipSpecialTokens: true));
    }

    [Fact]
    public void RealTokenizerMatchesDecodeCases()
    {
        var tok = Real.Value;
        foreach (var c in ReadJson("tokenizer", "cases.json").GetProperty("decode_cases").EnumerateArray())
        {
            var ids = Ints(c.GetProperty("ids"));
            var name = c.GetProperty("name").GetString();
            Assert.True(c.GetProperty("decoded").GetString() == tok.Decode(ids), $"{name}: decoded");
            Assert.True(c.GetProperty("decoded_skip_special").GetString() == tok.Decode(ids, skipSpecialTokens: true), $"{name}: decoded_skip_special");
        }
    }

    [Fact]
    public void RealTokenizerHasTheReferenceVocabularyAndSpecialIds()
    {
        var cases = ReadJson("tokenizer", "cases.json");
        var tok = Real.Value;
        Assert.Equal(cases.GetProperty("vocab_size").GetInt32(), tok.VocabSize);
        foreach (var p in cases.GetProperty("special_ids").EnumerateObject())
        {
            Assert.Equal(p.Value.GetInt32(), tok.TokenToId(p.Name));
            Assert.Equal(p.Name, tok.IdToToken(p.Value.GetInt32()));
        }
        Assert.Equal("[PAD]", tok.PadToken);
        Assert.Equal(151665, tok.PadTokenId);
        Assert.Null(tok.BosToken);
        Assert.Null(tok.BosTokenId);
        Assert.Equal(151643, tok.EosTokenId);
        Assert.Equal(512, tok.ModelMaxLength);
        Assert.Equal(PaddingSide.Left, tok.PaddingSide);
        Assert.Null(tok.IdToToken(tok.VocabSize));
    }

    private static JsonElement HfRoot() =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tokenization", "Data", "hf_cases.json"))).RootElement;

    private static IEnumerable<(string Text, JsonElement Case)> HfCases(string group)
    {
        var root = HfRoot();
        var list = group == "real" ? root.GetProperty("real") : root.GetProperty("flags").GetProperty("cases");
        // Texts are stored as UTF-16 code units because some hold lone surrogates.
        return list.EnumerateArray().Select(c => (new string(c.GetProperty("utf16").EnumerateArray().Select(u => (char)u.GetInt32()).ToArray()), c));
    }

    private static void AssertCase(Qwen2Tokenizer tok, string text, JsonElement c)
    {
        var label = JsonSerializer.Serialize(text);
        var ids = tok.Encode(text);
        Assert.True(Ints(c.GetProperty("ids")).SequenceEqual(ids), $"{label}: ids {string.Join(",", ids)}");
        Assert.True(c.GetProperty("decoded").GetString() == tok.Decode(ids), $"{label}: decoded");
        Assert.True(c.GetProperty("decoded_skip_special").GetString() == tok.Decode(ids, skipSpecialTokens: true), $"{label}: decoded_skip_special");
    }

    [Fact]
    public void RealTokenizerMatchesHuggingFaceOnEdgeCases()
    {
        // Letters outside the BMP, Unicode white space, case-folded contractions ('ſ), NFC, code, numbers.
        foreach (var (text, c) in HfCases("real")) AssertCase(Real.Value, text, c);
    }

    [Fact]
    public void BenchmarkTextMatchesHuggingFace()
    {
        // The benchmark's 1 MB mixed-language text (English, CJK, Hangul, emoji, code, numbers): count and SHA-256 of
        // the ids Hugging Face tokenizers gives (little-endian int32), and the round trip.
        var golden = HfRoot().GetProperty("mixed_corpus");
        var text = MixedCorpus.Generate(1_000_000);
        Assert.Equal(golden.GetProperty("utf8_bytes").GetInt32(), Encoding.UTF8.GetByteCount(text));
        var ids = Real.Value.Encode(text);
        Assert.Equal(golden.GetProperty("tokens").GetInt32(), ids.Length);
        Assert.Equal(golden.GetProperty("ids_sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(ids.AsSpan()))));
        Assert.True(golden.GetProperty("decodes_to_text").GetBoolean());
        Assert.True(text == Real.Value.Decode(ids), "decode(encode(text)) differs from the text");
    }

    [Fact]
    public void ConcurrentEncodingGivesTheSequentialIds()
    {
        // Fresh tokenizers (empty caches): one used from many threads at once, one sequentially.
        var texts = ReadJson("tokenizer", "cases.json").GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("text").GetString()!).ToArray();
        var shared = Qwen2Tokenizer.Load(Fixtures.TinyModel);
        var sequential = Qwen2Tokenizer.Load(Fixtures.TinyModel);
        var expected = texts.Select(t => sequential.Encode(t)).ToArray();
        var results = new int[texts.Length * 8][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = shared.Encode(texts[i % texts.Length]));
        for (int i = 0; i < results.Length; i++) Assert.Equal(expected[i % texts.Length], results[i]);
    }

    [Fact]
    public void LoneSurrogatesBecomeTheReplacementCharacter()
    {
        // Documented behaviour: an unpaired surrogate is encoded as U+FFFD (bytes EF BF BD), as a UTF-8 encoder does.
        var tok = Real.Value;
        Assert.Equal(tok.Encode("x\uFFFDy"), tok.Encode("x\uD800y"));
        Assert.Equal(tok.Encode("\uFFFD\uFFFD"), tok.Encode("\uDC00\uD800"));
        Assert.Equal("x\uFFFDy", tok.Decode(tok.Encode("x\uD800y")));
    }

    [Fact]
    public void AddedTokenFlagsMatchHuggingFace()
    {
        // lstrip / rstrip / single_word / normalized on the tiny tokenizer with extra added tokens.
        var root = HfRoot();
        var dir = TokenizerFolders.WithExtraAddedTokens(root.GetProperty("flags").GetProperty("added_tokens"));
        try
        {
            var tok = Qwen2Tokenizer.Load(dir);
            foreach (var (text, c) in HfCases("flags")) AssertCase(tok, text, c);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static int[] GoldenRow(string file, string key, int row)
    {
        using var t = Fixtures.Tensor(file, key);
        return t[row].data<int>().ToArray();
    }

    /// <summary>The official pipeline's prompt rows (before the generation prefix is appended), per golden case.</summary>
    private static readonly Dictionary<string, string[]> PipelineRows = new()
    {
        ["t2i_plain"] = ["a red circle on a white background"],
        ["t2i_cfg"] = ["a blue square on a black background masterpiece, film grained, best quality.", "lowres, blurry"],
        ["t2i_multi"] = ["photo of a green triangle", "photo of a green triangle", "", ""],
        ["t2i_wide"] = ["a yellow circle", ""],
    };

    [Theory]
    [InlineData("t2i_plain", "4*4")]
    [InlineData("t2i_cfg", "4*4")]
    [InlineData("t2i_multi", "4*4")]
    [InlineData("t2i_wide", "2*6")]
    [InlineData("edit", "4*4")]
    public void TinyTokenizerReproducesPipelineInputIds(string name, string area)
    {
        var tok = Tiny.Value;
        string[] rows = PipelineRows.TryGetValue(name, out var r) ? r : EditRows(tok);
        var prefix = tok.Encode("<|image_area|>" + area).Append(tok.TokenToId("<|begin_of_image|>")!.Value).ToArray();
        var batch = tok.EncodeBatch(rows, paddingSide: PaddingSide.Left);
        Assert.Empty(batch.Warnings);

        using var ids = Fixtures.Tensor("tiny/golden/golden.safetensors", $"pipe.{name}.input_ids");
        Assert.Equal(rows.Length, (int)ids.shape[0]);
        Assert.Equal(batch.Length + prefix.Length, (int)ids.shape[1]);
        for (int row = 0; row < rows.Length; row++)
        {
            var expectedIds = GoldenRow("tiny/golden/golden.safetensors", $"pipe.{name}.input_ids", row);
            var expectedMask = GoldenRow("tiny/golden/golden.safetensors", $"pipe.{name}.attention_mask", row);
            var actualIds = Enumerable.Range(0, batch.Length).Select(p => (int)batch.InputIds[row, p]).Concat(prefix);
            var actualMask = Enumerable.Range(0, batch.Length).Select(p => (int)batch.AttentionMask[row, p]).Concat(prefix.Select(_ => 1));
            Assert.Equal(expectedIds, actualIds);
            Assert.Equal(expectedMask, actualMask);
        }
    }

    private static string[] EditRows(Qwen2Tokenizer tok)
    {
        int id(string t) => tok.TokenToId(t)!.Value;
        var image = "<|image_area|>4*4" + tok.Decode([id("<|begin_of_image|>"), .. Enumerable.Repeat(id("<|image_placeholder|>"), 16), id("<|end_of_image|>")]);
        return [image + "Add a pirate hat to the dog's head.", image + "Copy original image.", "Copy original image."];
    }

    [Fact]
    public void BosVariantPrependsTheBosStringAndDropsThePrefixFirstId()
    {
        var tok = Qwen2Tokenizer.Load(Fixtures.Path("variants", "v1.1", "tokenizer_bos"));
        Assert.Equal("<|beginoftext|>", tok.BosToken);
        Assert.Equal(1055, tok.BosTokenId);
        Assert.Equal(1056, tok.VocabSize);

        var batch = tok.EncodeBatch([tok.BosToken + "a red circle on a white background", tok.BosToken + "lowres"], paddingSide: PaddingSide.Left);
        var prefix = tok.Encode("<|image_area|>4*4").Skip(1).Append(tok.TokenToId("<|begin_of_image|>")!.Value).ToArray();
        for (int row = 0; row < 2; row++)
        {
            var expected = GoldenRow("variants/v1.1/golden.safetensors", "pipe.t2i_bos.input_ids", row);
            var expectedMask = GoldenRow("variants/v1.1/golden.safetensors", "pipe.t2i_bos.attention_mask", row);
            Assert.Equal(expected, Enumerable.Range(0, batch.Length).Select(p => (int)batch.InputIds[row, p]).Concat(prefix));
            Assert.Equal(expectedMask, Enumerable.Range(0, batch.Length).Select(p => (int)batch.AttentionMask[row, p]).Concat(prefix.Select(_ => 1)));
        }
    }
}
