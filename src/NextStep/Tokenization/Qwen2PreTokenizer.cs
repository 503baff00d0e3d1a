using System.Globalization;

namespace NextStep.Tokenization;

/// <summary>
/// Splits text into the pieces that BPE encodes one by one, exactly as the Qwen2 "Split" pre-tokenizer regex
/// (behaviour Isolated) does:
/// <code>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</code>
/// The pattern is matched by hand on Unicode code points rather than by .NET's Regex, which sees UTF-16 code
/// units: there a letter outside the Basic Multilingual Plane (𝒜, 𠀀) is two surrogates that are not \p{L}, and
/// the pieces would differ from Hugging Face tokenizers. As in Oniguruma's case-insensitive matching, "ſ"
/// (U+017F) counts as an "s" in the contractions. \s is Unicode White_Space; \p{L} and \p{N} follow .NET's
/// Unicode tables. Checked over every code point against Hugging Face tokenizers 0.23.2 (the classes letter, number,
/// white space and other each code point falls in): no difference with .NET 10.
/// </summary>
internal static class Qwen2PreTokenizer
{
    /// <summary>The pattern string this class implements, as written in tokenizer.json.</summary>
    public const string Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private enum Kind : byte { Letter, Number, Space, Other }

    private static readonly string[] Contractions = ["s", "t", "re", "ve", "m", "ll", "d"];

    /// <summary>Appends (start, length) of every piece of <paramref name="text"/>, in order; the pieces cover the text.</summary>
    public static void Split(ReadOnlySpan<char> text, List<(int Start, int Length)> pieces)
    {
        for (int i = 0; i < text.Length;)
        {
            int length = MatchAt(text, i);
            pieces.Add((i, length));
            i += length;
        }
    }

    /// <summary>Length of the match at <paramref name="i"/>: the first alternative of the pattern that matches there.</summary>
    private static int MatchAt(ReadOnlySpan<char> s, int i)
    {
        char c = s[i];

        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if (c == '\'')
            foreach (var suffix in Contractions)
                if (MatchesIgnoreCase(s, i + 1, suffix)) return 1 + suffix.Length;

        // [^\r\n\p{L}\p{N}]?\p{L}+
        var kind = KindAt(s, i, out int width);
        if (kind == Kind.Letter) return LetterRun(s, i);
        if (kind != Kind.Number && c != '\r' && c != '\n' && i + width < s.Length && KindAt(s, i + width, out _) == Kind.Letter)
            return width + LetterRun(s, i + width);

        // \p{N}
        if (kind == Kind.Number) return width;

        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        int j = c == ' ' ? i + 1 : i;
        if (j < s.Length && KindAt(s, j, out _) == Kind.Other)
        {
            while (j < s.Length && KindAt(s, j, out int w) == Kind.Other) j += w;
            while (j < s.Length && s[j] is '\r' or '\n') j++;
            return j - i;
        }

        // Here s[i] is white space (every white-space character is a single UTF-16 unit).
        int end = i;
        int lastNewline = -1;
        while (end < s.Length && IsSpace(s[end]))
        {
            if (s[end] is '\r' or '\n') lastNewline = end;
            end++;
        }
        if (lastNewline >= 0) return lastNewline + 1 - i;      // \s*[\r\n]+
        if (end == s.Length) return end - i;                    // \s+(?!\S) at the end of the text
        return Math.Max(1, end - 1 - i);                        // \s+(?!\S) leaving one space for the next word, else \s+
    }

    private static int LetterRun(ReadOnlySpan<char> s, int i)
    {
        int j = i;
        while (j < s.Length && KindAt(s, j, out int w) == Kind.Letter) j += w;
        return j - i;
    }

    private static bool MatchesIgnoreCase(ReadOnlySpan<char> s, int at, string lower)
    {
        if (at + lower.Length > s.Length) return false;
        for (int k = 0; k < lower.Length; k++)
        {
            char c = s[at + k];
            if (c != lower[k] && c != char.ToUpperInvariant(lower[k]) && !(lower[k] == 's' && c == '\u017F')) return false;
        }
        return true;
    }

    private static bool IsSpace(char c) => char.IsWhiteSpace(c);

    private static Kind KindAt(ReadOnlySpan<char> s, int i, out int width)
    {
        char c = s[i];
        UnicodeCategory category;
        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            width = 2;
            category = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, s[i + 1]));
        }
        else
        {
            width = 1;
            if (IsSpace(c)) return Kind.Space;
            category = CharUnicodeInfo.GetUnicodeCategory(c);
        }
        return category switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
            _ => Kind.Other,
        };
    }
}
