using System.Text.RegularExpressions;

namespace NextStep.Model;

/// <summary>
/// Renames diffusers <c>AutoencoderKL</c> keys to the old LDM names this VAE uses (the inverse of the conversion the
/// Feb-2026 code applies at load time). Diffusers counts decoder levels from the deepest: <c>up_blocks.i</c> is
/// <c>up.(levels − 1 − i)</c>. Its attention projections are Linear [C, C] where the LDM ones are 1×1 convs; the loader
/// reshapes those.
/// </summary>
internal static partial class VaeKeys
{
    public static bool IsDiffusersLayout(IEnumerable<string> keys) =>
        keys.Any(k => k.Contains(".down_blocks.", StringComparison.Ordinal) || k.Contains(".up_blocks.", StringComparison.Ordinal) || k.Contains(".mid_block.", StringComparison.Ordinal));

    public static string FromDiffusers(string key, int levels)
    {
        key = DownBlock().Replace(key, "encoder.down.$1.${2}");
        key = UpBlock().Replace(key, m => $"decoder.up.{levels - 1 - int.Parse(m.Groups[1].Value)}.{m.Groups[2].Value}");
        foreach (var (from, to) in Renames) key = key.Replace(from, to, StringComparison.Ordinal);
        return key;
    }

    private static readonly (string From, string To)[] Renames =
    [
        (".resnets.", ".block."), (".downsamplers.0.", ".downsample."), (".upsamplers.0.", ".upsample."),
        (".mid_block.block.0.", ".mid.block_1."), (".mid_block.block.1.", ".mid.block_2."),
        (".mid_block.attentions.0.group_norm.", ".mid.attn_1.norm."), (".mid_block.attentions.0.to_q.", ".mid.attn_1.q."),
        (".mid_block.attentions.0.to_k.", ".mid.attn_1.k."), (".mid_block.attentions.0.to_v.", ".mid.attn_1.v."),
        (".mid_block.attentions.0.to_out.0.", ".mid.attn_1.proj_out."),
        (".conv_shortcut.", ".nin_shortcut."), (".conv_norm_out.", ".norm_out."),
    ];

    [GeneratedRegex(@"^encoder\.down_blocks\.(\d{1,4})\.(.*)$")]
    private static partial Regex DownBlock();

    [GeneratedRegex(@"^decoder\.up_blocks\.(\d{1,4})\.(.*)$")]
    private static partial Regex UpBlock();
}
