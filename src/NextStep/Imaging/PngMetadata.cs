using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace NextStep.Imaging;

/// <summary>
/// Reads and writes PNG <c>tEXt</c> chunks (keyword + Latin-1 text) without re-encoding the image.
/// Chunks are inserted right after IHDR so that viewers that stop reading early still see them.
/// </summary>
public static class PngMetadata
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    public static bool IsPng(ReadOnlySpan<byte> data) => data.Length >= 8 && data[..8].SequenceEqual(Signature);

    /// <summary>Returns a copy of <paramref name="png"/> with the given tEXt entries added (existing ones with the same keyword are replaced).</summary>
    public static byte[] WithText(byte[] png, IReadOnlyDictionary<string, string> entries)
    {
        var chunks = ReadChunks(png, "image");
        using var ms = new MemoryStream(png.Length + 1024);
        ms.Write(Signature);
        foreach (var c in chunks)
        {
            if (c.Type == "tEXt" && entries.ContainsKey(KeywordOf(c.Data))) continue;
            WriteChunk(ms, c.Type, c.Data);
            if (c.Type == "IHDR")
                foreach (var (k, v) in entries) WriteChunk(ms, "tEXt", TextChunk(k, v));
        }
        return ms.ToArray();
    }

    /// <summary>All tEXt entries of a PNG file's bytes (keyword → text). Malformed files give a NextStepException naming <paramref name="what"/>.</summary>
    public static Dictionary<string, string> ReadText(byte[] png, string what = "image")
    {
        var result = new Dictionary<string, string>();
        foreach (var c in ReadChunks(png, what))
        {
            if (c.Type != "tEXt") continue;
            int zero = Array.IndexOf(c.Data, (byte)0);
            if (zero <= 0) continue;
            result[Encoding.Latin1.GetString(c.Data, 0, zero)] = Encoding.Latin1.GetString(c.Data, zero + 1, c.Data.Length - zero - 1);
        }
        return result;
    }

    private static string KeywordOf(byte[] data)
    {
        int zero = Array.IndexOf(data, (byte)0);
        return zero < 0 ? "" : Encoding.Latin1.GetString(data, 0, zero);
    }

    private static byte[] TextChunk(string keyword, string text)
    {
        if (keyword.Length is < 1 or > 79) throw new ArgumentException($"PNG keyword \"{keyword}\" must be 1-79 characters");
        // tEXt is Latin-1: characters outside it are escaped as \uXXXX so that nothing is lost (ImageMetadata parses them back).
        var sb = new StringBuilder(text.Length);
        foreach (char ch in text)
            if (ch <= 0xFF && ch != '\\') sb.Append(ch); else if (ch == '\\') sb.Append("\\\\"); else sb.Append($"\\u{(int)ch:x4}");
        return [.. Encoding.Latin1.GetBytes(keyword), 0, .. Encoding.Latin1.GetBytes(sb.ToString())];
    }

    /// <summary>Reverses the escaping applied to non-Latin-1 characters on write.</summary>
    public static string Unescape(string text)
    {
        if (!text.Contains('\\')) return text;
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] == '\\') { sb.Append('\\'); i++; }
            else if (text[i] == '\\' && i + 5 < text.Length && text[i + 1] == 'u' && int.TryParse(text.AsSpan(i + 2, 4), System.Globalization.NumberStyles.HexNumber, null, out int code)) { sb.Append((char)code); i += 5; }
            else sb.Append(text[i]);
        }
        return sb.ToString();
    }

    private readonly record struct Chunk(string Type, byte[] Data);

    private static List<Chunk> ReadChunks(byte[] png, string what)
    {
        if (!IsPng(png)) throw new NextStepException($"{what}: not a PNG file (bad signature)");
        var chunks = new List<Chunk>();
        int pos = 8;
        while (pos < png.Length)
        {
            if (pos + 12 > png.Length) throw new NextStepException($"{what}: truncated PNG chunk at byte {pos}");
            uint len = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            if (len > int.MaxValue || pos + 12 + (long)len > png.Length) throw new NextStepException($"{what}: PNG chunk at byte {pos} claims {len} bytes, past the end of the file");
            string type = Encoding.ASCII.GetString(png, pos + 4, 4);
            chunks.Add(new Chunk(type, png.AsSpan(pos + 8, (int)len).ToArray()));
            pos += 12 + (int)len;
            if (type == "IEND") break;
        }
        if (chunks.Count == 0 || chunks[0].Type != "IHDR") throw new NextStepException($"{what}: PNG does not start with an IHDR chunk");
        return chunks;
    }

    private static void WriteChunk(Stream s, string type, byte[] data)
    {
        Span<byte> buf = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(buf, (uint)data.Length);
        s.Write(buf);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        var crc = new Crc32();
        crc.Append(typeBytes);
        crc.Append(data);
        BinaryPrimitives.WriteUInt32BigEndian(buf, crc.GetCurrentHashAsUInt32());
        s.Write(buf);
    }
}
