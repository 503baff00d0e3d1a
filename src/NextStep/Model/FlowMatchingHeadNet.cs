using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// Sinusoidal embedding of the flow time t ∈ [0, 1] (used raw, no ×1000): 256 features, cos first, computed in
/// float32 and cast to the MLP's dtype, then <c>mlp</c> = Linear(256→W), SiLU, Linear(W→W).
/// </summary>
public sealed class TimestepEmbedder : nn.Module<Tensor, Tensor>
{
    public const int FrequencyDim = 256;
    private const double MaxPeriod = 10000.0;

    private readonly Sequential mlp;

    public TimestepEmbedder(long width, ScalarType dtype, Device device) : base(nameof(TimestepEmbedder))
    {
        mlp = nn.Sequential(new Linear(FrequencyDim, width, true, dtype, device), nn.SiLU(), new Linear(width, width, true, dtype, device));
        RegisterComponents();
    }

    public static Tensor Frequencies(Tensor t)
    {
        using var scope = NewDisposeScope();
        const int half = FrequencyDim / 2;
        using Scalar zero = 0, rate = -Math.Log(MaxPeriod), count = half; // held until the calls return (see AdamW.Update)
        var freqs = Held.Arange(zero, count, ScalarType.Float32, t.device).mul(rate).div(count).exp();
        var args = t.to_type(ScalarType.Float32).unsqueeze(1) * freqs.unsqueeze(0);
        return cat([args.cos(), args.sin()], -1).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor t)
    {
        using var freq = Frequencies(t);
        using var cast = freq.to_type(mlp.parameters().First().dtype);
        return mlp.forward(cast);
    }
}

/// <summary>The adaLN chunks (shift, scale, …) with the scale replaced by 1 + scale, as both head layers use it.</summary>
internal static class AdaLN
{
    public static Tensor[] ScalePlusOne(Tensor[] chunks)
    {
        using TorchSharp.Scalar one = 1; // held, not left to the finalizer while libtorch reads it (see AdamW.Update)
        chunks[1] = Held.Add(chunks[1], one);
        return chunks;
    }
}

/// <summary>x + gate · MLP(LN(x)·(1+scale) + shift), with (shift, scale, gate) = Linear(SiLU(y)).</summary>
public sealed class ResBlock : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly LayerNorm in_ln;
    private readonly Sequential mlp;
    private readonly Sequential adaLN_modulation;

    public ResBlock(long width, long hidden, ScalarType dtype, Device device) : base(nameof(ResBlock))
    {
        in_ln = new LayerNorm(width, 1e-6, affine: true, dtype, device);
        mlp = nn.Sequential(new Linear(width, hidden, true, dtype, device), nn.SiLU(), new Linear(hidden, width, true, dtype, device));
        adaLN_modulation = nn.Sequential(nn.SiLU(), new Linear(width, 3 * width, true, dtype, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        var m = Modulation(y);
        return Modulated(x, m[0], m[1], m[2]).MoveToOuterDisposeScope();
    }

    /// <summary>(shift, 1 + scale, gate) from the chunks of Linear(SiLU(y)); they depend only on (t, c).</summary>
    public Tensor[] Modulation(Tensor y) => AdaLN.ScalePlusOne(adaLN_modulation.forward(y).chunk(3, -1));

    /// <summary>x + gate · MLP(LN(x)·scalePlusOne + shift).</summary>
    public Tensor Modulated(Tensor x, Tensor shift, Tensor scalePlusOne, Tensor gate)
    {
        using var scope = NewDisposeScope();
        var h = mlp.forward(Held.Add(in_ln.forward(x) * scalePlusOne, shift));
        return Held.Add(x, gate * h).MoveToOuterDisposeScope();
    }
}

/// <summary>Linear(LN_noaffine(x)·(1+scale) + shift), with (shift, scale) = Linear(SiLU(y)).</summary>
public sealed class FinalLayer : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly LayerNorm norm_final;
    private readonly Linear linear;
    private readonly Sequential adaLN_modulation;

    public FinalLayer(long width, long outDim, ScalarType dtype, Device device) : base(nameof(FinalLayer))
    {
        norm_final = new LayerNorm(width, 1e-6, affine: false, dtype, device);
        linear = new Linear(width, outDim, true, dtype, device);
        adaLN_modulation = nn.Sequential(nn.SiLU(), new Linear(width, 2 * width, true, dtype, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        var m = Modulation(y);
        return Modulated(x, m[0], m[1]).MoveToOuterDisposeScope();
    }

    /// <summary>(shift, 1 + scale) from the chunks of Linear(SiLU(y)).</summary>
    public Tensor[] Modulation(Tensor y) => AdaLN.ScalePlusOne(adaLN_modulation.forward(y).chunk(2, -1));

    /// <summary>Linear(LN(x)·scalePlusOne + shift).</summary>
    public Tensor Modulated(Tensor x, Tensor shift, Tensor scalePlusOne)
    {
        using var scope = NewDisposeScope();
        return linear.forward(Held.Add(norm_final.forward(x) * scalePlusOne, shift)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The official flow-matching network <c>SimpleMLPAdaLN</c>: v = net(x, t, c) with x [N, D] the noisy token,
/// t [N] the flow time (0 = noise, 1 = data) and c [N, H] the condition; returns the velocity [N, D].
/// Inputs are cast to the network's dtype (the official sampler casts x and t to it before the call).
/// </summary>
public sealed class SimpleMLPAdaLN : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly TimestepEmbedder time_embed;
    private readonly Linear cond_embed;
    private readonly Linear input_proj;
    private readonly ModuleList<ResBlock> res_blocks;
    private readonly FinalLayer final_layer;

    public SimpleMLPAdaLN(long inputDim, long condDim, long width, int layers, double mlpRatio, ScalarType dtype, Device device)
        : base(nameof(SimpleMLPAdaLN))
    {
        long hidden = (long)(width * mlpRatio);
        time_embed = new TimestepEmbedder(width, dtype, device);
        cond_embed = new Linear(condDim, width, true, dtype, device);
        input_proj = new Linear(inputDim, width, true, dtype, device);
        res_blocks = new ModuleList<ResBlock>(Enumerable.Range(0, layers).Select(_ => new ResBlock(width, hidden, dtype, device)).ToArray());
        final_layer = new FinalLayer(width, inputDim, dtype, device);
        RegisterComponents();
    }

    public ScalarType DType => input_proj.Weight.dtype;
    public Device Device => input_proj.Weight.device;

    public override Tensor forward(Tensor x, Tensor t, Tensor c)
    {
        using var scope = NewDisposeScope();
        var h = input_proj.forward(x.to_type(DType));
        var y = Held.Add(time_embed.forward(t.to_type(DType)), cond_embed.forward(c.to_type(DType)));
        foreach (var block in res_blocks) h = block.forward(h, y);
        return final_layer.forward(h, y).MoveToOuterDisposeScope();
    }

    internal TimestepEmbedder TimeEmbed => time_embed;
    internal Linear CondEmbed => cond_embed;
    internal Linear InputProj => input_proj;
    internal IList<ResBlock> Blocks => res_blocks;
    internal FinalLayer Final => final_layer;

    /// <summary>
    /// The network with the condition rows <paramref name="c"/> fixed and the sampler's time grid known in advance:
    /// the condition embedding and every adaLN modulation are computed once for all grid points (one batched
    /// matmul per layer instead of one per step). See <see cref="ConditionedHead"/>.
    /// </summary>
    public ConditionedHead Condition(Tensor c, Tensor times) => new(this, c, times);
}

/// <summary>The official <c>FlowMatchingHead</c> wrapper: its only child is <c>net</c> (keys <c>image_head.net.*</c>).</summary>
public sealed class FlowMatchingHead : nn.Module
{
    private readonly SimpleMLPAdaLN net;

    public FlowMatchingHead(long inputDim, long condDim, long width, int layers, double mlpRatio, ScalarType dtype, Device device)
        : base(nameof(FlowMatchingHead))
    {
        net = new SimpleMLPAdaLN(inputDim, condDim, width, layers, mlpRatio, dtype, device);
        RegisterComponents();
    }

    public SimpleMLPAdaLN Net => net;
}
