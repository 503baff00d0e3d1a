namespace NextStep.Config;

/// <summary>
/// The model's <c>config.json</c>: the union of the keys read by the three official config classes
/// (Aug-2025 GitHub / Hugging Face <c>NextStepConfig(LlamaConfig)</c>, Feb-2026 inference and training
/// <c>NextStepConfig(Qwen2Config)</c>). Unknown keys are ignored; a missing required key is an error naming it.
/// </summary>
public sealed record NextStepConfig
{
    public required string ModelType { get; init; }
    public required int HiddenSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int IntermediateSize { get; init; }
    public required int VocabSize { get; init; }
    public string HiddenAct { get; init; } = "silu";
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000.0;
    public int MaxPositionEmbeddings { get; init; } = 131072;
    public bool TieWordEmbeddings { get; init; }
    /// <summary>q/k/v biases (the weights decide in the end: a bias exists where its key exists).</summary>
    public bool AttentionBias { get; init; }
    public bool OAttentionBias { get; init; }
    public bool MlpBias { get; init; }
    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    /// <summary>The embedding's padding_idx during training (no gradient for that row); null = none.</summary>
    public int? PadTokenId { get; init; }
    public int? PadTokenIdAdded { get; init; }
    public required int Boi { get; init; }
    public required int Eoi { get; init; }
    public required int ImagePlaceholderId { get; init; }
    /// <summary>VAE latent channels C (latent_channels, else num_channels, else 16).</summary>
    public int LatentChannels { get; init; } = 16;
    /// <summary>Patch size p over the latent (latent_patch_size, else patch_size, else 2).</summary>
    public int LatentPatchSize { get; init; } = 2;
    public int LatentSize { get; init; } = 32;
    public int BaseImageGridSize { get; init; } = 32;
    public int FmHeadDim { get; init; } = 1536;
    public int FmHeadLayers { get; init; } = 12;
    public double FmHeadMlpRatio { get; init; } = 1.0;
    public int FmHeadBatchMul { get; init; } = 4;
    public double LmLossWeight { get; init; } = 0.01;
    public double ImLossWeight { get; init; } = 1.0;
    /// <summary>
    /// Training only (official <c>noise_strength</c>, default 0 = off): Gaussian noise added to the teacher-forced input
    /// latents, its standard deviation rising linearly from 0 to this value over the latent pixels in raster order;
    /// flow-matching targets stay clean. Inference ignores it.
    /// </summary>
    public double NoiseStrength { get; init; }
    public bool UseGenPosEmbed { get; init; }
    public string? VaeNameOrPath { get; init; }
    public string? TorchDtype { get; init; }

    /// <summary>Token width D = C·p².</summary>
    public int TokenDim => LatentChannels * LatentPatchSize * LatentPatchSize;

    public static NextStepConfig Load(string path)
    {
        var j = JsonConfig.Load(path);
        int hidden = j.Int("hidden_size");
        int heads = j.Int("num_attention_heads");
        bool attnBias = j.Bool("attention_bias", false);
        var cfg = new NextStepConfig
        {
            ModelType = j.StringOrNull("model_type") ?? "nextstep",
            HiddenSize = hidden,
            NumHiddenLayers = j.Int("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = j.Int("num_key_value_heads", heads),
            HeadDim = j.Int("head_dim", heads > 0 ? hidden / heads : 0),
            IntermediateSize = j.Int("intermediate_size"),
            VocabSize = j.Int("vocab_size"),
            HiddenAct = j.StringOrNull("hidden_act") ?? "silu",
            RmsNormEps = j.Double("rms_norm_eps", 1e-6),
            RopeTheta = j.Double("rope_theta", 10000.0),
            MaxPositionEmbeddings = j.Int("max_position_embeddings", 131072),
            TieWordEmbeddings = j.Bool("tie_word_embeddings", false),
            AttentionBias = attnBias,
            OAttentionBias = j.Bool("o_attention_bias", attnBias),
            MlpBias = j.Bool("mlp_bias", false),
            BosTokenId = j.IntOrNull("bos_token_id"),
            EosTokenId = j.IntOrNull("eos_token_id"),
            PadTokenId = j.IntOrNull("pad_token_id"),
            PadTokenIdAdded = j.IntOrNull("pad_token_id_added"),
            Boi = j.Int("boi"),
            Eoi = j.Int("eoi"),
            ImagePlaceholderId = j.Int("image_placeholder_id"),
            LatentChannels = j.Int("latent_channels", j.Int("num_channels", 16)),
            LatentPatchSize = j.Int("latent_patch_size", j.Int("patch_size", 2)),
            LatentSize = j.Int("latent_size", j.Int("image_size", 32)),
            BaseImageGridSize = j.Int("base_image_grid_size", 32),
            FmHeadDim = j.Int("fm_head_dim", 1536),
            FmHeadLayers = j.Int("fm_head_layers", 12),
            FmHeadMlpRatio = j.Double("fm_head_mlp_ratio", 1.0),
            FmHeadBatchMul = j.Int("fm_head_batch_mul", 4),
            LmLossWeight = j.Double("lm_loss_weight", 0.01),
            ImLossWeight = j.Double("im_loss_weight", j.Double("image_loss_weight", 1.0)),
            NoiseStrength = j.Double("noise_strength", 0.0),
            UseGenPosEmbed = j.Bool("use_gen_pos_embed", false),
            VaeNameOrPath = j.StringOrNull("vae_name_or_path"),
            TorchDtype = j.StringOrNull("torch_dtype"),
        };
        cfg.Validate(path);
        return cfg;
    }

    private void Validate(string path)
    {
        void Positive(string key, int v) { if (v <= 0) throw new NextStepException($"{path}: \"{key}\" must be a positive integer, found {v}"); }
        Positive("hidden_size", HiddenSize); Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads); Positive("num_key_value_heads", NumKeyValueHeads);
        Positive("head_dim", HeadDim); Positive("intermediate_size", IntermediateSize); Positive("vocab_size", VocabSize);
        Positive("latent_channels", LatentChannels); Positive("latent_patch_size", LatentPatchSize);
        Positive("fm_head_dim", FmHeadDim); Positive("fm_head_layers", FmHeadLayers);
        if (!(NoiseStrength >= 0) || double.IsInfinity(NoiseStrength))
            throw new NextStepException($"{path}: \"noise_strength\" must be a finite number >= 0, found {NoiseStrength}");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new NextStepException($"{path}: num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads})");
        if (HeadDim % 2 != 0) throw new NextStepException($"{path}: head_dim must be even for RoPE, found {HeadDim}");
        if (HiddenAct != "silu") throw new NextStepException($"{path}: hidden_act \"{HiddenAct}\" is not supported (expected \"silu\")");
        foreach (var (k, v) in new[] { ("boi", Boi), ("eoi", Eoi), ("image_placeholder_id", ImagePlaceholderId) })
            if (v < 0 || v >= VocabSize) throw new NextStepException($"{path}: \"{k}\" = {v} is outside the vocabulary (0..{VocabSize - 1})");
    }
}
