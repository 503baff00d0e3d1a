using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace NextStep.Model;

/// <summary>Building blocks of the FLUX-style VAE (old LDM key names). Forwards free their temporaries as they go.</summary>
internal static class VaeOps
{
    /// <summary>GroupNorm(32 groups, eps 1e-6, affine) as every VAE norm uses.</summary>
    public static GroupNorm Norm(long channels) => GroupNorm(32, channels, 1e-6, affine: true);

    /// <summary>swish(x) = x·sigmoid(x), computed in place on a temporary the caller owns.</summary>
    public static Tensor SwishInPlace(Tensor t)
    {
        using var s = t.sigmoid();
        return t.mul_(s);
    }

    /// <summary>Returns <paramref name="next"/> after disposing <paramref name="previous"/> (to chain layers).</summary>
    public static Tensor Replace(Tensor previous, Tensor next)
    {
        previous.Dispose();
        return next;
    }
}

/// <summary>norm1 → swish → conv1 → norm2 → swish → conv2, plus the input (through a 1×1 nin_shortcut when channels change).</summary>
internal sealed class ResnetBlock : Module<Tensor, Tensor>
{
    private readonly GroupNorm _norm1, _norm2;
    private readonly Conv2d _conv1, _conv2;
    private readonly Conv2d? _ninShortcut;

    public ResnetBlock(long inChannels, long outChannels) : base(nameof(ResnetBlock))
    {
        register_module("norm1", _norm1 = VaeOps.Norm(inChannels));
        register_module("conv1", _conv1 = Conv2d(inChannels, outChannels, 3, padding: 1));
        register_module("norm2", _norm2 = VaeOps.Norm(outChannels));
        register_module("conv2", _conv2 = Conv2d(outChannels, outChannels, 3, padding: 1));
        if (inChannels != outChannels) register_module("nin_shortcut", _ninShortcut = Conv2d(inChannels, outChannels, 1));
    }

    public override Tensor forward(Tensor x)
    {
        using var a = VaeOps.SwishInPlace(_norm1.call(x));
        using var b = _conv1.call(a);
        using var c = VaeOps.SwishInPlace(_norm2.call(b));
        using var h = _conv2.call(c);
        if (_ninShortcut is null) return x + h;
        using var shortcut = _ninShortcut.call(x);
        return shortcut + h;
    }
}

/// <summary>Single-head self-attention over all H·W positions (C-dim vectors, scale 1/√C), 1×1-conv projections, residual.</summary>
internal sealed class AttnBlock : Module<Tensor, Tensor>
{
    private readonly GroupNorm _norm;
    private readonly Conv2d _q, _k, _v, _projOut;

    public AttnBlock(long channels) : base(nameof(AttnBlock))
    {
        register_module("norm", _norm = VaeOps.Norm(channels));
        register_module("q", _q = Conv2d(channels, channels, 1));
        register_module("k", _k = Conv2d(channels, channels, 1));
        register_module("v", _v = Conv2d(channels, channels, 1));
        register_module("proj_out", _projOut = Conv2d(channels, channels, 1));
    }

    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        using var normed = _norm.call(x);
        // [b, c, h, w] → [b, 1, h·w, c]
        Tensor Tokens(Conv2d proj)
        {
            using var y = proj.call(normed);
            using var t = y.reshape(b, 1, c, h * w).transpose(2, 3);
            return t.contiguous();
        }
        using var q = Tokens(_q);
        using var k = Tokens(_k);
        using var v = Tokens(_v);
        using var attended = functional.scaled_dot_product_attention(q, k, v);
        using var image = attended.transpose(2, 3).reshape(b, c, h, w);
        using var projected = _projOut.call(image);
        return x + projected;
    }
}

/// <summary>Zero-pad right and bottom by one, then a 3×3 stride-2 conv without padding.</summary>
internal sealed class Downsample : Module<Tensor, Tensor>
{
    private readonly Conv2d _conv;

    public Downsample(long channels) : base(nameof(Downsample))
    {
        register_module("conv", _conv = Conv2d(channels, channels, 3, stride: 2, padding: 0L));
    }

    public override Tensor forward(Tensor x)
    {
        using var padded = functional.pad(x, [0, 1, 0, 1], PaddingModes.Constant, 0);
        return _conv.call(padded);
    }
}

/// <summary>Nearest-neighbour ×2, then a 3×3 conv.</summary>
internal sealed class Upsample : Module<Tensor, Tensor>
{
    private readonly Conv2d _conv;

    public Upsample(long channels) : base(nameof(Upsample))
    {
        register_module("conv", _conv = Conv2d(channels, channels, 3, padding: 1));
    }

    public override Tensor forward(Tensor x)
    {
        using var up = functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        return _conv.call(up);
    }
}

/// <summary>The mid section shared by encoder and decoder: block_1, attn_1, block_2.</summary>
internal sealed class VaeMid : Module<Tensor, Tensor>
{
    private readonly ResnetBlock _block1, _block2;
    private readonly AttnBlock _attn1;

    public VaeMid(long channels) : base(nameof(VaeMid))
    {
        register_module("block_1", _block1 = new ResnetBlock(channels, channels));
        register_module("attn_1", _attn1 = new AttnBlock(channels));
        register_module("block_2", _block2 = new ResnetBlock(channels, channels));
    }

    public override Tensor forward(Tensor x)
    {
        var h = _block1.call(x);
        h = VaeOps.Replace(h, _attn1.call(h));
        return VaeOps.Replace(h, _block2.call(h));
    }
}
