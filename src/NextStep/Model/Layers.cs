using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// Building blocks whose parameters are allocated uninitialised (<c>torch.empty</c>) in the target dtype and device:
/// a 14B model is never filled with random numbers that loading would overwrite. Parameter names are PyTorch's
/// (<c>weight</c>, <c>bias</c>) so that <c>named_parameters()</c> yields the official state-dict keys.
/// Parameters start frozen (<c>requires_grad = false</c>); training turns them on explicitly.
/// </summary>
internal static class Parameters
{
    public static Parameter Empty(long[] shape, ScalarType dtype, Device device)
        => new(empty(shape, dtype, device), requires_grad: false);
}

/// <summary>
/// <c>y = x·Wᵀ + b</c>; weight [out, in], optional bias [out]. With <c>int8</c> the weight is stored as int8 with a
/// float32 scale per output row (non-persistent buffer <c>weight_scale</c>) and dequantized per call
/// (<see cref="QuantizedLinear"/>); loading quantizes the checkpoint's float weight (<see cref="LoadWeight"/>).
/// </summary>
public sealed class Linear : nn.Module<Tensor, Tensor>, IInt8Weight
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly Tensor? weight_scale;

    public Linear(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype, Device device, bool int8 = false) : base(nameof(Linear))
    {
        weight = Parameters.Empty([outFeatures, inFeatures], int8 ? ScalarType.Int8 : dtype, device);
        bias = hasBias ? Parameters.Empty([outFeatures], dtype, device) : null;
        if (int8) weight_scale = ones(outFeatures, ScalarType.Float32, device);
        if (weight_scale is not null) register_buffer("weight_scale", weight_scale, persistent: false);
        RegisterComponents();
    }

    public Tensor Weight => weight;
    /// <summary>Per-output-row float32 scales of an int8 weight; null for a float weight.</summary>
    public Tensor? WeightScale => weight_scale;
    public bool IsInt8 => weight_scale is not null;

    /// <summary>Sets the weight from a float tensor [out, in] (quantized when the layer is int8).</summary>
    public void LoadWeight(Tensor source) => Int8Weights.Load(weight, weight_scale, source);

    public override Tensor forward(Tensor x) => weight_scale is null
        ? nn.functional.linear(x, weight, bias)
        : QuantizedLinear.Forward(x, weight, weight_scale, bias);
}

/// <summary>
/// Lookup table [vocab, hidden]. With <c>int8</c> the rows are stored as int8 with a float32 scale per row
/// (<see cref="QuantizedLinear.Quantize"/>); a lookup dequantizes only the selected rows, to <paramref name="dtype"/>.
/// </summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>, IInt8Weight
{
    private readonly Parameter weight;
    private readonly Tensor? weight_scale;
    private readonly ScalarType _dtype;

    public Embedding(long count, long dim, ScalarType dtype, Device device, bool int8 = false) : base(nameof(Embedding))
    {
        _dtype = dtype;
        weight = Parameters.Empty([count, dim], int8 ? ScalarType.Int8 : dtype, device);
        if (int8) weight_scale = ones(count, ScalarType.Float32, device);
        if (weight_scale is not null) register_buffer("weight_scale", weight_scale, persistent: false);
        RegisterComponents();
    }

    public Tensor Weight => weight;
    public Tensor? WeightScale => weight_scale;
    public bool IsInt8 => weight_scale is not null;

    public void LoadWeight(Tensor source) => Int8Weights.Load(weight, weight_scale, source);

    public override Tensor forward(Tensor ids)
    {
        using var flat = ids.reshape(-1);
        using var rows = weight.index_select(0, flat);
        if (weight_scale is null) return rows.reshape([.. ids.shape, weight.shape[1]]);
        using var scales = weight_scale.index_select(0, flat);
        using var deq = QuantizedLinear.Dequantize(rows, scales, _dtype);
        return deq.reshape([.. ids.shape, weight.shape[1]]);
    }
}

/// <summary>A module whose <c>weight</c> may be stored as int8 with per-row scales (filled by quantizing a float tensor).</summary>
public interface IInt8Weight
{
    bool IsInt8 { get; }
    Tensor? WeightScale { get; }
    /// <summary>Sets the weight from a float tensor of its shape (quantized when the module is int8).</summary>
    void LoadWeight(Tensor source);
}

internal static class Int8Weights
{
    public static void Load(Tensor weight, Tensor? scale, Tensor source)
    {
        using var _ = no_grad();
        if (scale is null) { weight.copy_(source); return; }
        var (q, s) = QuantizedLinear.Quantize(source);
        using (q) using (s) { weight.copy_(q); scale.copy_(s); }
    }
}

/// <summary>LayerNorm over the last dimension, with or without the affine weight and bias.</summary>
public sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter? weight;
    private readonly Parameter? bias;
    private readonly long _dim;
    private readonly double _eps;

    public LayerNorm(long dim, double eps, bool affine, ScalarType dtype, Device device) : base(nameof(LayerNorm))
    {
        _dim = dim; _eps = eps;
        if (affine)
        {
            weight = Parameters.Empty([dim], dtype, device);
            bias = Parameters.Empty([dim], dtype, device);
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.layer_norm(x, [_dim], weight, bias, _eps);
}

/// <summary>
/// Qwen2/Llama RMSNorm: statistics in float32, the normalised value cast back to the input dtype, then
/// multiplied by the weight (this order matters for bit-exactness in bf16).
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(long dim, double eps, ScalarType dtype, Device device) : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = Parameters.Empty([dim], dtype, device);
        RegisterComponents();
    }

    public Tensor Weight => weight;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to_type(ScalarType.Float32);
        var variance = Held.Square(x32).mean([-1], keepdim: true);
        using Scalar eps = _eps; // held until the call returns (see AdamW.Update)
        var normed = (x32 * Held.Add(variance, eps).rsqrt()).to_type(x.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }
}
