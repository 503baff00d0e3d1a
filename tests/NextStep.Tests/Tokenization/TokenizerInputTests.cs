using System.Diagnostics;
using System.Text.Json.Nodes;
using NextStep.Tests.Support;
using NextStep.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace NextStep.Tests.Tokenization;

/// <summary>Bad files, configs, batches and truncation.</summary>
public class TokenizerInputTests(ITestOutputHelper output)
{
    private static NextStepException LoadFails(string dir)
    {
        try { return Assert.Throws<NextStepException>(() => Qwen2Tokenizer.Load(dir)); }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void MissingFolderOrFileIsNamed()
    {
        var missing = Path.Combine(Path.GetTempPath(), "nextstep-no-such-model");
        Assert.Contains("nextstep-no-such-model", Assert.Throws<NextStepException>(() => Qwen2Tokenizer.Load(missing)).Message);

        var dir = TokenizerFolders.Tiny();
        File.Delete(Path.Combine(dir, "tokenizer.json"));
        var e = LoadFails(dir);
        Assert.Contains("tokenizer.json: file not found", e.Message);
    }

    [Fact]
    public void MalformedJsonIsNamed()
    {
        var dir = TokenizerFolders.Tiny();
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"pad_token\": ");
        var e = LoadFails(dir);
        Assert.Contains("tokenizer_config.json: not valid JSON", e.Message);
    }

    [Theory]
    [InlineData("model.type", "model.type is \"WordPiece\"")]
    [InlineData("model.vocab", "model.vocab must be a JSON object")]
    [InlineData("model.merges", "model.merges[0] (\"Ġ\" \"nosuch\") uses a token that is not in model.vocab")]
    [InlineData("model.byte", "lacks the byte-level token")]
    [InlineData("normalizer", "normalizer.type is \"NFKC\"")]
    [InlineData("pattern", "pre_tokenizer.pretokenizers[0].pattern.Regex is")]
    [InlineData("decoder", "decoder must be of type \"ByteLevel\"")]
    [InlineData("added.flag", "added_tokens[0].special must be true or false")]
    [InlineData("added.id", "added_tokens[1] \"<|im_start|>\" has id 2000")]
    public void UnsupportedTokenizerJsonIsNamed(string what, string message)
    {
        var dir = TokenizerFolders.Tiny(t =>
        {
            var model = t["model"]!.AsObject();
            var added = t["added_tokens"]!.AsArray();
            switch (what)
            {
                case "model.type": model["type"] = "WordPiece"; break;
                case "model.vocab": model.Remove("vocab"); break;
                case "model.merges": model["merges"]!.AsArray()[0] = new JsonArray("Ġ", "nosuch"); break;
                case "model.byte": model["vocab"]!.AsObject().Remove("Ġ"); break;
                case "normalizer": t["normalizer"] = new JsonObject { ["type"] = "NFKC" }; break;
                case "pattern": t["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = @"\s+"; break;
                case "decoder": t["decoder"] = null; break;
                case "added.flag": added[0]!["special"] = "yes"; break;
                case "added.id": added[1]!["id"] = 2000; break;
            }
        });
        var e = LoadFails(dir);
        Assert.Contains("tokenizer.json: ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("bos_object", null)]
    [InlineData("bos_unknown", "bos_token \"<nope>\" is not a token")]
    [InlineData("bos_number", "key \"bos_token\" must be null, a string or an object")]
    [InlineData("padding_side", "key \"padding_side\" must be \"left\" or \"right\"")]
    [InlineData("max_length", "key \"model_max_length\" must be a positive number")]
    public void TokenizerConfigFieldsAreCheckedAndNamed(string what, string? message)
    {
        var dir = TokenizerFolders.Tiny(editConfig: c =>
        {
            switch (what)
            {
                case "bos_object": c["bos_token"] = new JsonObject { ["content"] = "<|endoftext|>", ["special"] = true }; c.Remove("pad_token"); c["model_max_length"] = 1e30; break;
                case "bos_unknown": c["bos_token"] = "<nope>"; break;
                case "bos_number": c["bos_token"] = 5; break;
                case "padding_side": c["padding_side"] = "middle"; break;
                case "max_length": c["model_max_length"] = "long"; break;
            }
        });
        if (message is null)
        {
            // bos_token as an AddedToken object; no pad_token falls back to "[PAD]"; 1e30 means no limit.
            var tok = Qwen2Tokenizer.Load(dir);
            Directory.Delete(dir, recursive: true);
            Assert.Equal("<|endoftext|>", tok.BosToken);
            Assert.Equal(1024, tok.BosTokenId);
            Assert.Equal(1046, tok.PadTokenId);
            Assert.Equal(int.MaxValue, tok.ModelMaxLength);
            return;
        }
        var e = LoadFails(dir);
        Assert.Contains("tokenizer_config.json: ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void DecodingAnUnknownIdIsAnError()
    {
        var tok = TokenizerParityTests.Real.Value;
        var e = Assert.Throws<NextStepException>(() => tok.Decode([64, tok.VocabSize]));
        Assert.Contains($"token id {tok.VocabSize} is not in the vocabulary", e.Message);
    }

    [Fact]
    public void BatchPadsLeftOrRightWithTheMask()
    {
        var tok = TokenizerParityTests.Real.Value;
        var a = tok.Encode("a red circle");
        var b = tok.Encode("photo");
        var left = tok.EncodeBatch(["a red circle", "photo"]);
        Assert.Equal((2, a.Length), (left.Rows, left.Length));
        Assert.Equal(a.Select(x => (long)x), Row(left.InputIds, 0));
        Assert.Equal(Enumerable.Repeat(151665L, a.Length - b.Length).Concat(b.Select(x => (long)x)), Row(left.InputIds, 1));
        Assert.Equal(Enumerable.Repeat(0L, a.Length - b.Length).Concat(b.Select(_ => 1L)), Row(left.AttentionMask, 1));

        var right = tok.EncodeBatch(["a red circle", "photo"], paddingSide: PaddingSide.Right);
        Assert.Equal(b.Select(x => (long)x).Concat(Enumerable.Repeat(151665L, a.Length - b.Length)), Row(right.InputIds, 1));
        Assert.Equal(0, tok.EncodeBatch([]).Rows);
    }

    [Fact]
    public void LongTextsWarnAndTruncateOnRequest()
    {
        var tok = TokenizerParityTests.Real.Value;
        var longText = string.Join(" ", Enumerable.Range(0, 600).Select(i => $"w{i}"));
        int full = tok.Encode(longText).Length;
        Assert.True(full > 512);

        var kept = tok.EncodeBatch([longText, "short"]);
        Assert.Equal(full, kept.Length);
        Assert.Equal($"text 0: {full} tokens is longer than model_max_length 512 (truncation is off; the model may not handle it)", Assert.Single(kept.Warnings));

        var cut = tok.EncodeBatch([longText], truncation: true);
        Assert.Equal(512, cut.Length);
        Assert.Equal(tok.Encode(longText).Take(512).Select(x => (long)x), Row(cut.InputIds, 0));
        Assert.Contains("truncated to the first 512 tokens", Assert.Single(cut.Warnings));
    }

    [Fact]
    public void RealSizeTokenizerLoadsQuickly()
    {
        var sw = Stopwatch.StartNew();
        var tok = Qwen2Tokenizer.Load(Fixtures.Path("tokenizer"));
        sw.Stop();
        output.WriteLine($"151k-token tokenizer loaded in {sw.ElapsedMilliseconds} ms");
        Assert.Equal(151674, tok.VocabSize);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"loading took {sw.Elapsed}");
    }

    private static IEnumerable<long> Row(long[,] m, int row) => Enumerable.Range(0, m.GetLength(1)).Select(p => m[row, p]);
}
