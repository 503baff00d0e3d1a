namespace NextStep.Config;

/// <summary>The VAE's <c>vae/config.json</c> (FLUX-style f8ch16 autoencoder, old LDM key names).</summary>
public sealed record VaeConfig
{
    public int Resolution { get; init; } = 256;
    public int InChannels { get; init; } = 3;
    public int Ch { get; init; } = 128;
    public int OutCh { get; init; } = 3;
    public int[] ChMult { get; init; } = [1, 2, 4, 4];
    public int NumResBlocks { get; init; } = 2;
    public int ZChannels { get; init; } = 16;
    public double ScalingFactor { get; init; } = 1.0;
    public double ShiftFactor { get; init; }
    public bool Deterministic { get; init; } = true;
    /// <summary>Per-patch LayerNorm on the encoder's mean (psz×psz patches).</summary>
    public bool EncoderNorm { get; init; } = true;
    public int Psz { get; init; } = 1;
    /// <summary>
    /// Factor/flag keys absent from the file. The two official code bases default them differently (Aug-2025:
    /// 0.3611 / 0.1159 / false / false / none; Feb-2026: 1 / 0 / true / true / 1); the Feb-2026 values are used here.
    /// </summary>
    public IReadOnlyList<string> DefaultedKeys { get; init; } = [];

    /// <summary>Spatial down factor 2^(len(ch_mult)−1).</summary>
    public int DownFactor => 1 << (ChMult.Length - 1);

    /// <summary>Writes the fields <see cref="Load"/> reads, with the official key names.</summary>
    public void Save(string path)
    {
        var j = new System.Text.Json.Nodes.JsonObject
        {
            ["resolution"] = Resolution,
            ["in_channels"] = InChannels,
            ["ch"] = Ch,
            ["out_ch"] = OutCh,
            ["ch_mult"] = new System.Text.Json.Nodes.JsonArray(ChMult.Select(m => (System.Text.Json.Nodes.JsonNode)m).ToArray()),
            ["num_res_blocks"] = NumResBlocks,
            ["z_channels"] = ZChannels,
            ["scaling_factor"] = ScalingFactor,
            ["shift_factor"] = ShiftFactor,
            ["deterministic"] = Deterministic,
            ["encoder_norm"] = EncoderNorm,
            ["psz"] = Psz,
        };
        File.WriteAllText(path, j.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static readonly string[] FactorKeys = ["scaling_factor", "shift_factor", "deterministic", "encoder_norm", "psz"];

    public static VaeConfig Load(string path)
    {
        var j = JsonConfig.Load(path);
        var c = new VaeConfig
        {
            Resolution = j.Int("resolution", 256),
            InChannels = j.Int("in_channels", 3),
            Ch = j.Int("ch", 128),
            OutCh = j.Int("out_ch", 3),
            ChMult = j.IntArray("ch_mult", [1, 2, 4, 4]),
            NumResBlocks = j.Int("num_res_blocks", 2),
            ZChannels = j.Int("z_channels", 16),
            ScalingFactor = j.Double("scaling_factor", 1.0),
            ShiftFactor = j.Double("shift_factor", 0.0),
            Deterministic = j.Bool("deterministic", true),
            EncoderNorm = j.Bool("encoder_norm", true),
            Psz = j.Int("psz", 1),
            DefaultedKeys = FactorKeys.Where(k => !j.Has(k)).ToList(),
        };
        if (c.ChMult.Length == 0 || c.ChMult.Any(m => m <= 0)) throw new NextStepException($"{path}: \"ch_mult\" must be a non-empty list of positive integers");
        if (c.Ch <= 0 || c.ZChannels <= 0 || c.NumResBlocks <= 0 || c.Psz <= 0) throw new NextStepException($"{path}: ch, z_channels, num_res_blocks and psz must be positive");
        if (c.ScalingFactor == 0) throw new NextStepException($"{path}: \"scaling_factor\" must not be 0");
        if (c.ChMult.Length > 8 || c.Ch > 4096 || c.ChMult.Any(m => m > 64) || c.NumResBlocks > 16 || c.ZChannels > 1024 || c.Psz > 64
            || c.InChannels is <= 0 or > 16 || c.OutCh is <= 0 or > 16)
            throw new NextStepException($"{path}: VAE size out of the supported range (at most 8 levels, ch ≤ 4096, ch_mult ≤ 64, num_res_blocks ≤ 16, z_channels ≤ 1024, psz ≤ 64, 1–16 image channels)");
        if (c.ChMult.Any(m => c.Ch * m % 32 != 0))
            throw new NextStepException($"{path}: ch {c.Ch} × ch_mult [{string.Join(",", c.ChMult)}] must give channel counts divisible by 32 (GroupNorm with 32 groups)");
        return c;
    }
}
