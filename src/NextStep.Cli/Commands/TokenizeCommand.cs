using System.CommandLine;
using System.Globalization;
using NextStep.Tokenization;

namespace NextStep.Cli.Commands;

/// <summary>
/// <c>nextstep tokenize --model DIR [--no-special] TEXT</c> prints the token ids as a JSON array on one line;
/// <c>nextstep tokenize --model DIR --decode 1,2,3 [--skip-special]</c> prints the text of the ids.
/// </summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder with tokenizer.json and tokenizer_config.json", Required = true };
        var noSpecial = new Option<bool>("--no-special") { Description = "Encode without adding special tokens (the Qwen2 tokenizer adds none either way)" };
        var decode = new Option<string?>("--decode") { Description = "Decode these comma-separated token ids instead of encoding text" };
        var skipSpecial = new Option<bool>("--skip-special") { Description = "With --decode: leave out special tokens" };
        var text = new Argument<string?>("text") { Description = "Text to encode", Arity = ArgumentArity.ZeroOrOne };

        var cmd = new Command("tokenize", "Encode text to token ids, or decode ids to text, with a model's tokenizer");
        cmd.Options.Add(model);
        cmd.Options.Add(noSpecial);
        cmd.Options.Add(decode);
        cmd.Options.Add(skipSpecial);
        cmd.Arguments.Add(text);
        cmd.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var ids = parse.GetValue(decode);
            var input = parse.GetValue(text);
            if ((ids is null) == (input is null))
                throw new NextStepException("tokenize: give either TEXT to encode or --decode IDS, not both or neither");

            var tokenizer = Qwen2Tokenizer.Load(parse.GetValue(model)!);
            if (ids is not null)
                output.WriteLine(tokenizer.Decode(ParseIds(ids), parse.GetValue(skipSpecial)));
            else
                output.WriteLine("[" + string.Join(",", tokenizer.Encode(input!, addSpecialTokens: !parse.GetValue(noSpecial))) + "]");
            return 0;
        });
        return cmd;
    }

    private static int[] ParseIds(string list) =>
        list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int id) ? id
                : throw new NextStepException($"--decode: \"{s}\" is not a token id; expected comma-separated non-negative integers such as 1,2,3"))
            .ToArray();
}
