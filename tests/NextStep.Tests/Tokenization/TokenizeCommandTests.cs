using NextStep.Cli;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Tokenization;

/// <summary><c>nextstep tokenize</c> end to end through <see cref="CliApp.Run"/>, against the reference ids.</summary>
public class TokenizeCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void EncodesTextToAJsonArrayOnOneLine()
    {
        // Ids from tokenizer/cases.json (Hugging Face tokenizers).
        var (code, stdout, stderr) = Run("tokenize", "--model", Fixtures.Path("tokenizer"), "[PAD][PAD]text after pads");
        Assert.Equal("", stderr);
        Assert.Equal(0, code);
        Assert.Equal("[151665,151665,1318,1283,35995]" + Environment.NewLine, stdout);

        (code, stdout, _) = Run("tokenize", "--model", Fixtures.Path("tokenizer"), "--no-special", "Copy original image.");
        Assert.Equal(0, code);
        Assert.Equal("[12106,4024,2168,13]" + Environment.NewLine, stdout);
    }

    [Fact]
    public void DecodesIdsWithOrWithoutSpecialTokens()
    {
        var (code, stdout, _) = Run("tokenize", "--model", Fixtures.Path("tokenizer"), "--decode", "151657,9707,151665");
        Assert.Equal(0, code);
        Assert.Equal("<tool_call>Hello[PAD]" + Environment.NewLine, stdout);

        (code, stdout, _) = Run("tokenize", "--model", Fixtures.Path("tokenizer"), "--decode", "151657, 9707, 151665", "--skip-special");
        Assert.Equal(0, code);
        Assert.Equal("<tool_call>Hello" + Environment.NewLine, stdout);
    }

    [Theory]
    [InlineData("--decode", "1,x", "error: --decode: \"x\" is not a token id")]
    [InlineData("--decode", "99999999", "error: token id 99999999 is not in the vocabulary")]
    [InlineData(null, null, "error: tokenize: give either TEXT to encode or --decode IDS")]
    public void BadInputIsOneErrorLine(string? option, string? value, string message)
    {
        var args = new List<string> { "tokenize", "--model", Fixtures.TinyModel };
        if (option is not null) args.AddRange([option, value!]);
        var (code, stdout, stderr) = Run([.. args]);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.StartsWith(message, stderr);
    }

    [Fact]
    public void MissingModelFolderIsNamed()
    {
        var (code, _, stderr) = Run("tokenize", "--model", "no-such-model-folder", "hello");
        Assert.Equal(1, code);
        Assert.Contains("no-such-model-folder", stderr);
    }
}
