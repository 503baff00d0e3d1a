using System.Text;

namespace NextStep.Bench;

/// <summary>
/// A deterministic mixed-language text for tokenizer benchmarks: English prose with contractions, Chinese, Japanese,
/// Korean, emoji (with skin tones, flags and ZWJ sequences), source code, numbers and dates, and assorted white space.
/// The same seed gives the same text on every machine.
/// </summary>
public static class MixedCorpus
{
    private static readonly string[] Words =
        ("the a an of on in with and or but over under near photo painting portrait landscape city street forest river " +
         "mountain ocean sky cloud sunset sunrise night morning light shadow red blue green yellow white black golden silver " +
         "old young small large tiny giant cat dog bird horse dragon robot astronaut panda fox owl tree flower garden house " +
         "castle bridge car train boat lamp window door table chair book cup glass mirror wearing holding standing sitting " +
         "flying running looking smiling detailed realistic cinematic soft sharp dramatic vivid pastel minimalist vintage " +
         "futuristic cozy misty rainy snowy sunny quality masterpiece lighting background foreground style art render").Split(' ');
    private static readonly string[] Contractions = ["don't", "it's", "I'm", "they'll", "we've", "she'd", "you're", "can't", "THEY'RE"];
    private const string Hanzi = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质";
    private const string Kana = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんアイウエオカキクケコサシスセソタチツテトナニヌネノ";
    private static readonly string[] Emoji =
        ["🐼", "🚀", "✨", "🎨", "🌸", "🔥", "😀", "👍🏽", "🇰🇷", "🇯🇵", "👩‍👩‍👧", "👩🏻‍💻", "❤️", "🏳️‍🌈", "🦊", "🌊"];
    private static readonly string[] Code =
    [
        "def f(x):\n    return x ** 2  # square\n",
        "for (int i = 0; i < n; i++) {\n\tsum += a[i] * b[i];\n}\n",
        "const url = \"https://example.com/api/v1/items?id=42&sort=desc\";\n",
        "if err != nil {\n        return fmt.Errorf(\"open %s: %w\", path, err)\n}\n",
        "SELECT id, name FROM users WHERE created_at > '2025-08-19' ORDER BY id;\n",
        "<div class=\"card\"><img src=\"a.png\" alt=\"\"/></div>\r\n",
    ];

    /// <summary>Text of at least <paramref name="utf8Bytes"/> UTF-8 bytes.</summary>
    public static string Generate(int utf8Bytes, int seed = 1234)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder();
        int bytes = 0;
        while (bytes < utf8Bytes)
        {
            int start = sb.Length;
            switch (rng.Next(10))
            {
                case 0 or 1 or 2 or 3: English(sb, rng); break;
                case 4: sb.Append(Pick(rng, Hanzi, 4, 30)).Append('。'); break;
                case 5: sb.Append(Pick(rng, Kana, 3, 12)).Append(Pick(rng, Hanzi, 1, 4)).Append('、'); break;
                case 6: for (int i = rng.Next(2, 8); i > 0; i--) sb.Append((char)rng.Next(0xAC00, 0xD7A4)).Append(rng.Next(4) == 0 ? " " : ""); break;
                case 7: for (int i = rng.Next(1, 5); i > 0; i--) sb.Append(Emoji[rng.Next(Emoji.Length)]); break;
                case 8: sb.Append(Code[rng.Next(Code.Length)]); break;
                default: Numbers(sb, rng); break;
            }
            sb.Append(rng.Next(8) switch { 0 => "\n", 1 => "\n\n", 2 => "\t", 3 => "  ", _ => " " });
            bytes += Encoding.UTF8.GetByteCount(sb.ToString(start, sb.Length - start));
        }
        return sb.ToString();
    }

    private static void English(StringBuilder sb, Random rng)
    {
        int n = rng.Next(5, 20);
        for (int i = 0; i < n; i++)
        {
            string w = rng.Next(12) == 0 ? Contractions[rng.Next(Contractions.Length)] : Words[rng.Next(Words.Length)];
            if (i == 0) w = char.ToUpperInvariant(w[0]) + w[1..];
            sb.Append(w).Append(i == n - 1 ? "" : rng.Next(10) == 0 ? ", " : " ");
        }
        sb.Append(".!?"[rng.Next(3)]);
    }

    private static void Numbers(StringBuilder sb, Random rng) =>
        sb.Append(rng.Next(3) switch
        {
            0 => rng.Next(0, 1_000_000_000).ToString(),
            1 => (rng.NextDouble() * 1000).ToString("F3", System.Globalization.CultureInfo.InvariantCulture),
            _ => $"{rng.Next(1990, 2030)}-{rng.Next(1, 13):D2}-{rng.Next(1, 29):D2}",
        });

    private static string Pick(Random rng, string alphabet, int min, int max)
    {
        var chars = new char[rng.Next(min, max + 1)];
        for (int i = 0; i < chars.Length; i++) chars[i] = alphabet[rng.Next(alphabet.Length)];
        return new string(chars);
    }
}
