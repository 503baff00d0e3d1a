using System.Globalization;

namespace NextStep.Tokenization;

/// <summary>One entry of tokenizer.json's "added_tokens", with the Hugging Face flags.</summary>
/// <param name="Special">skipped by <see cref="Qwen2Tokenizer.Decode"/> with skipSpecialTokens</param>
/// <param name="Normalized">matched in the normalized text instead of the raw text</param>
/// <param name="LStrip">also takes the white space on its left</param>
/// <param name="RStrip">also takes the white space on its right</param>
/// <param name="SingleWord">only matches when not inside a word</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool LStrip, bool RStrip, bool SingleWord);

/// <summary>
/// Finds added tokens in text the way Hugging Face tokenizers' added vocabulary does: leftmost-longest
/// non-overlapping matches, a single_word token skipped when a word character touches it, lstrip/rstrip taking
/// the neighbouring white space into the token.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly (string Pattern, AddedToken Token)[] _tokens;
    private readonly System.Buffers.SearchValues<char> _firstChars;

    /// <param name="tokens">the tokens to look for</param>
    /// <param name="patternOf">the text to match for each token (its content, or its normalized content)</param>
    public AddedTokenMatcher(IEnumerable<AddedToken> tokens, Func<AddedToken, string> patternOf)
    {
        // Longest first, so the first hit at a position is the longest one.
        _tokens = tokens.Select(t => (patternOf(t), t)).Where(p => p.Item1.Length > 0)
            .OrderByDescending(p => p.Item1.Length).ToArray();
        _firstChars = System.Buffers.SearchValues.Create(_tokens.Select(p => p.Pattern[0]).Distinct().ToArray());
    }

    /// <summary>
    /// Splits <paramref name="text"/> into alternating plain spans (Token null) and added tokens, covering the text.
    /// </summary>
    public void Split(string text, List<(int Start, int Length, AddedToken? Token)> output)
    {
        int done = 0;
        int search = 0;
        while (_tokens.Length > 0 && search < text.Length)
        {
            int at = text.AsSpan(search).IndexOfAny(_firstChars);
            if (at < 0) break;
            at += search;
            var hit = LongestAt(text, at);
            if (hit is not var (pattern, token)) { search = at + 1; continue; }

            int start = at, stop = at + pattern.Length;
            search = stop;
            if (token.SingleWord && (start > 0 && IsWordChar(text, start - 1, before: true) || stop < text.Length && IsWordChar(text, stop, before: false)))
                continue;
            if (token.LStrip)
            {
                while (start > done && char.IsWhiteSpace(text[start - 1])) start--;
            }
            if (token.RStrip)
            {
                while (stop < text.Length && char.IsWhiteSpace(text[stop])) stop++;
            }
            if (start > done) output.Add((done, start - done, null));
            output.Add((start, stop - start, token));
            done = stop;
            search = Math.Max(search, stop);
        }
        if (done < text.Length) output.Add((done, text.Length - done, null));
    }

    private (string, AddedToken)? LongestAt(string text, int at)
    {
        foreach (var entry in _tokens)
            if (string.CompareOrdinal(text, at, entry.Pattern, 0, entry.Pattern.Length) == 0) return entry;
        return null;
    }

    /// <summary>Regex \w: letters, marks, decimal digits, letter numbers, connector punctuation, ZWNJ/ZWJ.</summary>
    private static bool IsWordChar(string text, int index, bool before)
    {
        // For the character before a position, step back over a surrogate pair.
        if (before && char.IsLowSurrogate(text[index]) && index > 0 && char.IsHighSurrogate(text[index - 1])) index--;
        int cp = char.IsSurrogatePair(text, index) ? char.ConvertToUtf32(text, index) : text[index];
        if (cp is 0x200C or 0x200D) return true;
        return CharUnicodeInfo.GetUnicodeCategory(cp) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
                or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
                or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation => true,
            _ => false,
        };
    }
}
