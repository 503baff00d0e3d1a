using System.Text.Json;
using NextStep.Tests.Support;
using NextStep.Tokenization;
using NextStep.Training.Shapes;
using Xunit;

namespace NextStep.Tests.Tokenization;

/// <summary>BPE merges learned from domain texts (<see cref="BpeTrainer"/>) and the tokenizer.json built from them (<see cref="DomainTokenizer"/>).</summary>
public class DomainTokenizerTests
{
    [Fact]
    public void LearnsTheMostFrequentPairFirstAndBreaksTiesOrdinally()
    {
        // Pieces "aab", " aab", " ab" (space = Ġ). Worked by hand: (a,b) occurs 3 times; then (a,ab) twice; then
        // (Ġ,aab) and (Ġ,ab) once each, the ordinally smaller first.
        var merges = BpeTrainer.Learn(["aab aab ab"], maxMerges: 100);
        Assert.Equal([("a", "b"), ("a", "ab"), ("Ġ", "aab"), ("Ġ", "ab")], merges);
        Assert.Equal([("a", "b")], BpeTrainer.Learn(["aab aab ab"], maxMerges: 100, minCount: 3));
    }

    [Fact]
    public void MatchesHuggingFaceTokenizersOnShapesCaptionsAndOtherText()
    {
        var dir = Directory.CreateTempSubdirectory("nextstep-domain-").FullName;
        DomainTokenizer.Write(Fixtures.TinyModel, dir, ShapesCaptions(20_000));
        var tokenizer = Qwen2Tokenizer.Load(dir);
        var golden = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tokenization", "Data", "domain_cases.json"))).RootElement;
        int n = 0;
        foreach (var c in golden.GetProperty("cases").EnumerateArray())
        {
            string text = c.GetProperty("text").GetString()!;
            Assert.True(c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).SequenceEqual(tokenizer.Encode(text)), $"ids of \"{text}\" differ from Hugging Face tokenizers'");
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
            n++;
        }
        Assert.True(n >= 100, $"only {n} golden cases");
    }

    [Fact]
    public void KeepsSizeBytesAndAddedTokensAndMakesEveryCaptionWordOneToken()
    {
        var dir = Directory.CreateTempSubdirectory("nextstep-domain-").FullName;
        int merges = DomainTokenizer.Write(Fixtures.TinyModel, dir, ShapesCaptions(20_000));
        var base_ = Qwen2Tokenizer.Load(Fixtures.TinyModel);
        var domain = Qwen2Tokenizer.Load(dir);
        Assert.InRange(merges, 50, 768);
        Assert.Equal(base_.VocabSize, domain.VocabSize);
        Assert.Equal(base_.AddedTokens, domain.AddedTokens);
        foreach (char c in ByteLevel.ByteToChar) Assert.Equal(base_.TokenToId(c.ToString()), domain.TokenToId(c.ToString()));

        // Captions the merges were not learned from, held-out combinations included: one token per word.
        var unseen = ShapesDataset.Scenes(99, 300).Concat(ShapesDataset.Scenes(99, 300, ShapesSplit.HeldOut)).Select(s => s.Caption).ToList();
        foreach (var caption in unseen)
        {
            int words = caption.Split(' ').Length + caption.Count(ch => ch == ',');
            Assert.True(domain.Encode(caption).Length == words, $"\"{caption}\": {domain.Encode(caption).Length} tokens for {words} words and commas");
        }
        double before = unseen.Average(c => base_.Encode(c).Length), after = unseen.Average(c => domain.Encode(c).Length);
        Assert.True(after < before / 2, $"captions average {after:F1} tokens, {before:F1} before");
    }

    [Fact]
    public void ADomainLargerThanTheVocabularyGetsItsMostFrequentMergesOnly()
    {
        var dir = Directory.CreateTempSubdirectory("nextstep-domain-").FullName;
        var rng = new Random(5);
        var words = Enumerable.Range(0, 3000).Select(_ => new string(Enumerable.Range(0, 12).Select(_ => (char)('a' + rng.Next(26))).ToArray())).ToList();
        Assert.Equal(1024 - 256, DomainTokenizer.Write(Fixtures.TinyModel, dir, words));
        Assert.Equal(Qwen2Tokenizer.Load(Fixtures.TinyModel).VocabSize, Qwen2Tokenizer.Load(dir).VocabSize);
    }

    internal static List<string> ShapesCaptions(int n) => ShapesDataset.Scenes(1, n).Select(s => s.Caption).ToList();
}
