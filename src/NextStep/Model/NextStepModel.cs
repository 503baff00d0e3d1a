using NextStep.Config;
using NextStep.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>Which optional tensors the model carries (read from the checkpoint by <see cref="NextStepModel.Load"/>).</summary>
public sealed record NextStepLayout(Biases Biases, long[]? GenPosEmbedShape = null, bool BeforeLmHead = false)
{
    public static NextStepLayout FromConfig(NextStepConfig c) => new(new Biases(c.AttentionBias, c.OAttentionBias, c.MlpBias));

    /// <summary>Biases from layer 0's keys (every layer must then agree); optional extras from their presence.</summary>
    public static NextStepLayout FromCheckpoint(IReadOnlyDictionary<string, string> canonical, SafeTensorsCheckpoint ck)
    {
        bool Has(string n) => canonical.ContainsKey(n);
        var biases = new Biases(Has("layers.0.self_attn.q_proj.bias"), Has("layers.0.self_attn.o_proj.bias"), Has("layers.0.mlp.gate_proj.bias"));
        var pos = canonical.TryGetValue("gen_pos_embed", out var p) ? ck.Info(p).Shape : null;
        return new NextStepLayout(biases, pos, Has("before_lm_head.weight"));
    }
}

/// <summary>
/// NextStep-1: the Qwen2.5-style decoder plus <c>lm_head</c>, the image projectors and the flow-matching head.
/// Parameter names equal the official state-dict keys (no prefix).
/// </summary>
public sealed class NextStepModel : Qwen2Decoder
{
    private readonly Linear? lm_head;
    private readonly Linear? before_lm_head;
    private readonly Linear image_in_projector;
    private readonly Linear image_out_projector;
    private readonly FlowMatchingHead image_head;
    private readonly Tensor? gen_pos_embed;

    /// <summary>
    /// Builds the model with uninitialised weights (fill them with <see cref="WeightLoader"/> or use <see cref="Load"/>).
    /// <paramref name="int8"/> stores the decoder's linear weights, <c>embed_tokens</c> and <c>lm_head</c> as int8 with per-row scales.
    /// </summary>
    public NextStepModel(NextStepConfig c, NextStepLayout layout, ScalarType dtype = ScalarType.Float32, Device? device = null, RopeInvFreq rope = RopeInvFreq.ModelDType, bool int8 = false)
        : base(nameof(NextStepModel), c, layout.Biases, rope, dtype, device ??= CPU, int8)
    {
        if (!c.TieWordEmbeddings) lm_head = new Linear(c.HiddenSize, c.VocabSize, false, dtype, device, int8);
        if (layout.BeforeLmHead) before_lm_head = new Linear(c.HiddenSize, c.HiddenSize, true, dtype, device);
        image_in_projector = new Linear(c.TokenDim, c.HiddenSize, true, dtype, device);
        image_out_projector = new Linear(c.HiddenSize, c.HiddenSize, true, dtype, device);
        image_head = new FlowMatchingHead(c.TokenDim, c.HiddenSize, c.FmHeadDim, c.FmHeadLayers, c.FmHeadMlpRatio, dtype, device);
        if (layout.GenPosEmbedShape is { } shape) gen_pos_embed = empty(shape, dtype, device);
        RegisterComponents();
    }

    /// <summary>
    /// Loads <c>config.json</c> and the safetensors weights of a model folder, casting tensor by tensor to
    /// <paramref name="dtype"/> on <paramref name="device"/>. Strict: every weight must be present with its shape;
    /// unexpected tensors are errors except <c>gen_pos_embed</c> (kept when present) and a tied <c>lm_head.weight</c>.
    /// </summary>
    public static NextStepModel Load(string modelFolder, ScalarType dtype = ScalarType.Float32, Device? device = null, RopeInvFreq rope = RopeInvFreq.ModelDType, bool int8 = false)
    {
        if (!Directory.Exists(modelFolder)) throw new NextStepException($"{modelFolder}: model folder not found");
        var config = NextStepConfig.Load(Path.Combine(modelFolder, "config.json"));
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64))
            throw new NextStepException($"dtype {dtype} is not supported for the model (expected float32, bfloat16, float16 or float64)");
        using var ck = SafeTensorsCheckpoint.Open(modelFolder);
        var layout = NextStepLayout.FromCheckpoint(WeightLoader.CanonicalNames(ck), ck);
        if (config.UseGenPosEmbed && layout.GenPosEmbedShape is null)
            throw new NextStepException($"{modelFolder}: config.json sets use_gen_pos_embed but the checkpoint has no \"gen_pos_embed\" tensor");
        if (layout.GenPosEmbedShape is { } s && (s.Length != 3 || s[0] != 1 || s[2] != config.HiddenSize))
            throw new NextStepException($"{modelFolder}: \"gen_pos_embed\" has shape [{string.Join(", ", s)}], expected [1, grid², {config.HiddenSize}]");
        var model = new NextStepModel(config, layout, dtype, device, rope, int8);
        try
        {
            WeightLoader.Load(model, ck, config.TieWordEmbeddings ? new HashSet<string> { "lm_head.weight" } : null);
        }
        catch { model.Dispose(); throw; }
        return model;
    }

    public Linear ImageInProjector => image_in_projector;
    public Linear ImageOutProjector => image_out_projector;
    /// <summary>The flow-matching network v = net(x, t, c).</summary>
    public SimpleMLPAdaLN Head => image_head.Net;
    /// <summary>The checkpoint's 2-D sin-cos table [1, G², H], when it has one (used only with <c>use_gen_pos_embed</c>).</summary>
    public Tensor? GenPosEmbed => gen_pos_embed;

    /// <summary>
    /// Token embeddings [B, T, H] where every <c>image_placeholder_id</c> position takes
    /// <c>image_in_projector(token)</c>, tokens assigned in row-major order over (row, position).
    /// <paramref name="imageTokens"/> is [N, D] or [B_img, n, D] (flattened in order); its count must equal the
    /// number of placeholders.
    /// </summary>
    public Tensor Embed(Tensor inputIds, Tensor? imageTokens = null)
    {
        using var scope = NewDisposeScope();
        var ids = inputIds.to(ScalarType.Int64, Device);
        var embeds = embed_tokens.forward(ids);
        using TorchSharp.Scalar placeholder = Config.ImagePlaceholderId; // held until the call returns (see AdamW.Update)
        var isImage = ids.eq(placeholder);
        long placeholders = isImage.sum().item<long>();
        long provided = imageTokens is null ? 0 : imageTokens.numel() / Config.TokenDim;
        if (imageTokens is not null && (imageTokens.dim() < 2 || imageTokens.shape[^1] != Config.TokenDim))
            throw new NextStepException($"image tokens have shape [{string.Join(", ", imageTokens.shape)}], expected [..., {Config.TokenDim}]");
        if (placeholders != provided)
            throw new NextStepException($"the input ids hold {placeholders} image placeholder tokens (id {Config.ImagePlaceholderId}) but {provided} image tokens were given");
        if (placeholders == 0) return embeds.MoveToOuterDisposeScope();
        var projected = image_in_projector.forward(imageTokens!.reshape(-1, Config.TokenDim).to(DType, Device));
        return embeds.masked_scatter(isImage.unsqueeze(-1), projected).MoveToOuterDisposeScope();
    }

    /// <summary>Prefill: <see cref="Qwen2Decoder.Forward"/> over the prompt; returns hidden states [B, T, H].</summary>
    public Tensor Prefill(Tensor inputsEmbeds, Tensor attentionMask, KvCache cache) => Forward(inputsEmbeds, attentionMask, cache);

    /// <summary>One decode step: embeddings [B, 1, H] of real tokens at slot <c>cache.Length</c>; returns [B, 1, H].</summary>
    public Tensor DecodeStep(Tensor inputsEmbeds, KvCache cache) => Forward(inputsEmbeds, null, cache);

    /// <summary>Vocabulary logits of hidden states [..., H] (through <c>before_lm_head</c> when present; tied to <c>embed_tokens</c> if configured).</summary>
    public Tensor Logits(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var h = before_lm_head?.forward(hidden) ?? hidden;
        var logits = lm_head?.forward(h) ?? (embed_tokens.WeightScale is { } scale
            ? QuantizedLinear.Forward(h, embed_tokens.Weight, scale, null)
            : nn.functional.linear(h, embed_tokens.Weight));
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Latents [B, C, h·p, w·p] → tokens [B, h·w, C·p²], feature index c·p² + py·p + px, row-major over the grid.</summary>
    public static Tensor Patchify(Tensor latents, int patchSize)
    {
        if (latents.dim() != 4 || latents.shape[2] % patchSize != 0 || latents.shape[3] % patchSize != 0)
            throw new NextStepException($"latents have shape [{string.Join(", ", latents.shape)}], expected [B, C, H, W] with H and W multiples of {patchSize}");
        long b = latents.shape[0], c = latents.shape[1], h = latents.shape[2] / patchSize, w = latents.shape[3] / patchSize;
        using var grid = latents.reshape(b, c, h, patchSize, w, patchSize);
        using var perm = grid.permute(0, 2, 4, 1, 3, 5);
        return perm.reshape(b, h * w, c * patchSize * patchSize);
    }

    /// <summary>Tokens [B, h·w, C·p²] → latents [B, C, h·p, w·p]; the exact inverse of <see cref="Patchify"/> (h, w explicit).</summary>
    public static Tensor Unpatchify(Tensor tokens, int h, int w, int channels, int patchSize)
    {
        if (tokens.dim() != 3 || tokens.shape[1] != (long)h * w || tokens.shape[2] != (long)channels * patchSize * patchSize)
            throw new NextStepException($"tokens have shape [{string.Join(", ", tokens.shape)}], expected [B, {h}·{w}, {channels * patchSize * patchSize}]");
        long b = tokens.shape[0];
        using var grid = tokens.reshape(b, h, w, channels, patchSize, patchSize);
        using var perm = grid.permute(0, 3, 1, 4, 2, 5);
        return perm.reshape(b, channels, (long)h * patchSize, (long)w * patchSize);
    }

    public Tensor Patchify(Tensor latents) => Patchify(latents, Config.LatentPatchSize);
    public Tensor Unpatchify(Tensor tokens, int h, int w) => Unpatchify(tokens, h, w, Config.LatentChannels, Config.LatentPatchSize);
}
