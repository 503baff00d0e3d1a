using NextStep.Tests.Support;
using NextStep.Tokenization;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>
/// Mutation passes over a tokenizer folder (tokenizer.json, tokenizer_config.json): a mutant must be refused with a
/// clear error, or load into a tokenizer that encodes and decodes without any other exception.
/// </summary>
public sealed class TokenizerMutationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-mut-tok-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Text with added tokens, a lone surrogate, combining marks and several scripts.</summary>
    internal const string Sample = "<|im_start|>user\nA cat\u0301 on a mat 🐈 — 猫, 123 <image> end<|im_end|>\n\ud800 x";

    /// <summary>Loads a tokenizer folder and exercises encode, batch encode and decode.</summary>
    internal static void Exercise(string folder)
    {
        var tok = Qwen2Tokenizer.Load(folder);
        var ids = tok.Encode(Sample);
        tok.Decode(ids);
        tok.Decode(ids, skipSpecialTokens: true);
        tok.EncodeBatch([Sample, "short"], truncation: true);
    }

    [Theory]
    [InlineData("tokenizer.json", 2500, 21)]
    [InlineData("tokenizer_config.json", 1500, 22)]
    public void TokenizerFileMutantsLoadOrAreRefused(string file, int count, int seed)
    {
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(Fixtures.TinyModel, f), Path.Combine(_dir, f));
        var path = Path.Combine(_dir, file);
        var original = File.ReadAllBytes(path);
        var (ok, refused) = Mutator.Run(original, count, seed, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            Exercise(_dir);
        });
        Assert.True(ok > 0 && refused > 0, $"accepted {ok}, refused {refused}");
    }
}
