using System.Text;

namespace NextStep.Tokenization;

/// <summary>
/// The GPT-2 byte-level alphabet: each of the 256 byte values is written as one printable character, so
/// that a vocabulary of strings can hold any byte sequence. Printable Latin-1 bytes ('!'..'~', '¡'..'¬',
/// '®'..'ÿ') stand for themselves; the other 68 bytes get the characters U+0100, U+0101, … in byte order
/// (space 0x20 → 'Ġ', newline 0x0A → 'Ċ').
/// </summary>
internal static class ByteLevel
{
    /// <summary>The character that stands for each byte value.</summary>
    public static readonly char[] ByteToChar = BuildAlphabet();

    private static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    private static char[] BuildAlphabet()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = (char)(printable ? b : next++);
        }
        return map;
    }

    /// <summary>
    /// Appends the bytes a token stands for. A token made only of byte-level characters gives those bytes;
    /// any other token (an added token holding a plain space or a CJK character, say) gives its own UTF-8 text,
    /// as the Hugging Face ByteLevel decoder does.
    /// </summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        int start = output.Count;
        foreach (char c in token)
        {
            if (!CharToByte.TryGetValue(c, out byte b))
            {
                output.RemoveRange(start, output.Count - start);
                output.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
            output.Add(b);
        }
    }
}
