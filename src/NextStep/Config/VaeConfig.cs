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
    public bool Deterministic { get; init; }
    /// <summary>Per-patch LayerNorm on the encoder's mean (psz×psz patches).</summary>
    public bool EncoderNorm { get; init; } = true;
    public int Psz { get; init; } = 1;

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
            Deterministic = j.Bool("deterministic", false),
            EncoderNorm = j.Bool("encoder_norm", true),
            Psz = j.Int("psz", 1),
        };
        if (c.ChMult.Length == 0 || c.ChMult.Any(m => m <= 0)) throw new NextStepException($"{path}: \"ch_mult\" must be a non-empty list of positive integers");
        if (c.Ch <= 0 || c.ZChannels <= 0 || c.NumResBlocks <= 0 || c.Psz <= 0) throw new NextStepException($"{path}: ch, z_channels, num_res_blocks and psz must be positive");
        if (c.ScalingFactor == 0) throw new NextStepException($"{path}: \"scaling_factor\" must not be 0");
        return c;
    }
}
