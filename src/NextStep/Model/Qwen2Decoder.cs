using TorchSharp;
using TorchSharp.Modules;
using NextStep.Config;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// The precision of the RoPE inverse frequencies. They are computed in float32; PyTorch's <c>model.to(dtype)</c>
/// also casts the non-persistent <c>inv_freq</c> buffer, so a reference model run in bf16 (the official pipeline,
/// DeepSpeed bf16 training) uses bf16-rounded values, while a float32 reference (the tiny goldens) does not.
/// </summary>
public enum RopeInvFreq
{
    /// <summary>Rounded to the model's dtype and back (float32: unchanged; bfloat16: bf16-rounded), as PyTorch does.</summary>
    ModelDType,
    /// <summary>Always float32 (a reference model that was never cast).</summary>
    Float32,
    /// <summary>Always bf16-rounded (e.g. float32 compute that reproduces a bf16-cast training run).</summary>
    Bf16Rounded,
}

/// <summary>Default HF RoPE ("rotate_half", non-interleaved halves); positions are cache slot indices.</summary>
public sealed class RotaryEmbedding
{
    private readonly Tensor _invFreq;

    /// <param name="roundTo">dtype the float32 inverse frequencies are rounded through (Float32 = none)</param>
    public RotaryEmbedding(int headDim, double theta, ScalarType roundTo, Device device)
    {
        using Scalar zero = 0, width = headDim, two = 2; // held until the calls return (see AdamW.Update)
        using var exponent = arange(zero, width, two, ScalarType.Int64).to_type(ScalarType.Float32).div(width);
        using var basis = tensor((float)theta);
        using var inv = basis.pow(exponent).reciprocal();
        using var rounded = inv.to_type(roundTo).to_type(ScalarType.Float32);
        _invFreq = rounded.to(device);
    }

    /// <summary>The float32 inverse frequencies [headDim/2].</summary>
    public Tensor InvFreq => _invFreq;

    /// <summary>cos and sin [T, headDim] for positions start..start+T−1, computed in float32, cast to <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Table(long start, long count, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using Scalar first = start, end = start + count; // held until the call returns (see AdamW.Update)
        var positions = Held.Arange(first, end, ScalarType.Float32, _invFreq.device);
        var angles = positions.unsqueeze(1) * _invFreq.unsqueeze(0);
        var emb = cat([angles, angles], -1);
        return (emb.cos().to_type(dtype).MoveToOuterDisposeScope(), emb.sin().to_type(dtype).MoveToOuterDisposeScope());
    }

    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var halves = x.chunk(2, -1);
        var rotated = cat([-halves[1], halves[0]], -1);
        return Held.Add(x * cos, rotated * sin).MoveToOuterDisposeScope();
    }
}

/// <summary>Grouped-query self-attention with q/k/v (and optionally o) biases.</summary>
public sealed class Attention : nn.Module
{
    private readonly Linear q_proj, k_proj, v_proj, o_proj;
    private readonly int _heads, _kvHeads, _headDim;

    public Attention(NextStepConfig c, bool qkvBias, bool oBias, ScalarType dtype, Device device, bool int8 = false) : base(nameof(Attention))
    {
        _heads = c.NumAttentionHeads; _kvHeads = c.NumKeyValueHeads; _headDim = c.HeadDim;
        q_proj = new Linear(c.HiddenSize, _heads * _headDim, qkvBias, dtype, device, int8);
        k_proj = new Linear(c.HiddenSize, _kvHeads * _headDim, qkvBias, dtype, device, int8);
        v_proj = new Linear(c.HiddenSize, _kvHeads * _headDim, qkvBias, dtype, device, int8);
        o_proj = new Linear(_heads * _headDim, c.HiddenSize, oBias, dtype, device, int8);
        RegisterComponents();
    }

    /// <param name="x">[B, T, H]</param>
    /// <param name="mask">additive mask [B, 1, T, S] over the S attended slots</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = RotaryEmbedding.Apply(q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2), cos, sin);
        var k = RotaryEmbedding.Apply(k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2), cos, sin);
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        if (cache != null) (k, v) = cache.Append(layer, k, v);
        // GQA without repeating K/V: query head h uses kv head h / groups, so the queries of one kv head are
        // stacked as [B, kv, groups·T, d] and attend to that head's keys; the mask is already [B, 1, groups·T, S].
        int groups = _heads / _kvHeads;
        var qg = q.reshape(b, _kvHeads, groups * t, _headDim);
        var o = nn.functional.scaled_dot_product_attention(qg, k, v, mask).reshape(b, _heads, t, _headDim); // a CUDA kernel may return it strided
        return o_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope();
    }
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)).</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj, up_proj, down_proj;

    public Mlp(NextStepConfig c, bool bias, ScalarType dtype, Device device, bool int8 = false) : base(nameof(Mlp))
    {
        gate_proj = new Linear(c.HiddenSize, c.IntermediateSize, bias, dtype, device, int8);
        up_proj = new Linear(c.HiddenSize, c.IntermediateSize, bias, dtype, device, int8);
        down_proj = new Linear(c.IntermediateSize, c.HiddenSize, bias, dtype, device, int8);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.forward(nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm decoder layer: h += attn(RMSNorm(h)); h += mlp(RMSNorm(h)).</summary>
public sealed class DecoderLayer : nn.Module
{
    private readonly RmsNorm input_layernorm, post_attention_layernorm;
    private readonly Attention self_attn;
    private readonly Mlp mlp;

    public DecoderLayer(NextStepConfig c, Biases biases, ScalarType dtype, Device device, bool int8 = false) : base(nameof(DecoderLayer))
    {
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        self_attn = new Attention(c, biases.Qkv, biases.O, dtype, device, int8);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        mlp = new Mlp(c, biases.Mlp, dtype, device, int8);
        RegisterComponents();
    }

    public Tensor Forward(Tensor h, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var a = Held.Add(h, self_attn.Forward(input_layernorm.forward(h), cos, sin, mask, cache, layer));
        return Held.Add(a, mlp.forward(post_attention_layernorm.forward(a))).MoveToOuterDisposeScope();
    }
}

/// <summary>Which optional biases the linear layers carry (decided by the checkpoint's keys, else by the config).</summary>
public sealed record Biases(bool Qkv, bool O, bool Mlp);

/// <summary>
/// The Qwen2.5-style causal decoder (<c>embed_tokens</c>, <c>layers.{i}</c>, <c>norm</c>): the base of
/// <see cref="NextStepModel"/>, whose state-dict keys carry no prefix.
/// </summary>
public abstract class Qwen2Decoder : nn.Module
{
    protected readonly Embedding embed_tokens;
    protected readonly ModuleList<DecoderLayer> layers;
    protected readonly RmsNorm norm;
    private readonly RotaryEmbedding _rope;

    public NextStepConfig Config { get; }

    protected Qwen2Decoder(string name, NextStepConfig c, Biases biases, RopeInvFreq rope, ScalarType dtype, Device device, bool int8 = false) : base(name)
    {
        Config = c;
        embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, dtype, device, int8);
        layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(_ => new DecoderLayer(c, biases, dtype, device, int8)).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        var roundTo = rope switch { RopeInvFreq.Float32 => ScalarType.Float32, RopeInvFreq.Bf16Rounded => ScalarType.BFloat16, _ => dtype };
        _rope = new RotaryEmbedding(c.HeadDim, c.RopeTheta, roundTo, device);
    }

    public ScalarType DType => norm.Weight.dtype;
    public Device Device => embed_tokens.Weight.device;

    /// <summary>A fresh cache for <paramref name="batch"/> rows and up to <paramref name="capacity"/> positions.</summary>
    public KvCache NewCache(int batch, int capacity)
        => new(Config.NumHiddenLayers, batch, Config.NumKeyValueHeads, Config.HeadDim, capacity, DType, Device);

    /// <summary>
    /// Runs T new positions through the decoder and returns the final-normed hidden states [B, T, H].
    /// <paramref name="attentionMask"/> (nonzero = real token, 0 = left pad) is [B, T] for the new positions or
    /// [B, cache.Length + T] for all positions (HF style; only its last T columns are read); null = all real.
    /// With a cache, positions continue at <c>cache.Length</c> and the cache advances by T; without one, the
    /// T positions attend only among themselves (positions 0..T−1). Position ids are slot indices for every row
    /// (not padding-aware), as in the official code.
    /// </summary>
    public Tensor Forward(Tensor inputsEmbeds, Tensor? attentionMask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long b = inputsEmbeds.shape[0], t = inputsEmbeds.shape[1];
        int past = cache?.Length ?? 0;
        var padMask = NewPositionsMask(attentionMask, b, t, past);
        var keyValid = cache != null ? cache.BeginStep(padMask) : padMask.to_type(ScalarType.Bool);
        var mask = AdditiveMask(keyValid, past, t, Config.NumAttentionHeads / Config.NumKeyValueHeads);
        var (cos, sin) = _rope.Table(past, t, inputsEmbeds.dtype);
        var h = inputsEmbeds;
        for (int i = 0; i < layers.Count; i++) h = layers[i].Forward(h, cos, sin, mask, cache, i);
        cache?.EndStep((int)t);
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    private Tensor NewPositionsMask(Tensor? attentionMask, long b, long t, int past)
    {
        if (attentionMask is null) return ones([b, t], ScalarType.Bool, Device);
        if (attentionMask.dim() != 2 || attentionMask.shape[0] != b || (attentionMask.shape[1] != t && attentionMask.shape[1] != past + t))
            throw new ArgumentException($"attention mask has shape [{string.Join(", ", attentionMask.shape)}], expected [{b}, {t}] or [{b}, {past + t}]");
        return attentionMask.narrow(1, attentionMask.shape[1] - t, t).to(ScalarType.Bool, Device);
    }

    /// <summary>
    /// Additive mask [B, 1, groups·T, S] (the T query rows repeated for each of the <paramref name="groups"/> query
    /// heads that share a kv head): 0 where key slot j ≤ query slot and j holds a real token, else the dtype's minimum.
    /// </summary>
    private Tensor AdditiveMask(Tensor keyValid, int past, long t, int groups)
    {
        long b = keyValid.shape[0], s = keyValid.shape[1];
        using Scalar first = past, end = past + t, zero = 0, slots = s; // held until the calls return (see AdamW.Update)
        var queries = Held.Arange(first, end, ScalarType.Int64, Device).unsqueeze(1);
        var keys = Held.Arange(zero, slots, ScalarType.Int64, Device).unsqueeze(0);
        var allowed = keys.le(queries).unsqueeze(0).unsqueeze(0).logical_and(keyValid.unsqueeze(1).unsqueeze(1));
        // The fill value is a Scalar held by this variable until the call has returned: passed as a temporary, the
        // finalizer may free its native object while libtorch still reads it (a long training run died with
        // "Expected false to be true" in Scalar::toFloat inside masked_fill).
        using var minimum = finfo(DType).min.ToScalar();
        var mask = zeros(allowed.shape, DType, Device).masked_fill(allowed.logical_not(), minimum);
        return groups == 1 ? mask : mask.expand(b, groups, t, s).reshape(b, 1, groups * t, s);
    }
}
