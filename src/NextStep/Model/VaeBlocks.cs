using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// 2-D convolution with bias, weight [out, in, k, k]. Parameters are allocated uninitialised in the target dtype and
/// device (no random init: loading never consumes the global generator).
/// </summary>
internal sealed class ConvLayer : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight, bias;
    private readonly long _stride, _padding;

    static ConvLayer() => Nnpack.Ensure();

    public ConvLayer(long inChannels, long outChannels, long kernel, long stride, long padding, ScalarType dtype, Device device) : base(nameof(ConvLayer))
    {
        weight = Parameters.Empty([outChannels, inChannels, kernel, kernel], dtype, device);
        bias = Parameters.Empty([outChannels], dtype, device);
        _stride = stride;
        _padding = padding;
        RegisterComponents();
    }

    /// <summary>
    /// Fewer output channels than this, with a kernel wider than 1×1, make libtorch 2.10's oneDNN kernels give wrong
    /// numbers on some AVX-512 CPUs (measured on an AMD EPYC with AVX-512 BF16): bfloat16 outputs off by up to half
    /// their range, and float32 gradients with respect to the input off by 50–100 % or NaN, while float32 outputs and
    /// weight gradients stay exact. Such a convolution (the decoder's conv_out, 3 channels) then runs with zero filters
    /// added up to this many channels and keeps the first ones: the same values, through the kernels that work.
    /// </summary>
    public const long WideOutChannels = 16;

    public override Tensor forward(Tensor x)
    {
        long outChannels = weight.shape[0];
        bool narrow = outChannels < WideOutChannels && (weight.shape[2] > 1 || weight.shape[3] > 1);
        bool affected = x.dtype is ScalarType.BFloat16 or ScalarType.Float16 || (x.requires_grad && is_grad_enabled());
        if (!(narrow && affected)) return Conv(x, weight, bias);
        using var scope = NewDisposeScope();
        var extraWeight = zeros([WideOutChannels - outChannels, .. weight.shape[1..]], weight.dtype, weight.device);
        var extraBias = zeros([WideOutChannels - outChannels], bias.dtype, bias.device);
        var wide = Conv(x, cat([weight, extraWeight], 0), cat([bias, extraBias], 0));
        return wide.narrow(1, 0, outChannels).contiguous().MoveToOuterDisposeScope();
    }

    private Tensor Conv(Tensor x, Tensor w, Tensor b) => nn.functional.conv2d(x, w, b, strides: [_stride, _stride], padding: [_padding, _padding]);
}

/// <summary>GroupNorm with 32 groups, eps 1e-6 and affine weight/bias [C], as every VAE norm.</summary>
internal sealed class GroupNormLayer : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight, bias;

    public GroupNormLayer(long channels, ScalarType dtype, Device device) : base(nameof(GroupNormLayer))
    {
        weight = Parameters.Empty([channels], dtype, device);
        bias = Parameters.Empty([channels], dtype, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.group_norm(x, 32, weight, bias, 1e-6);
}

/// <summary>Helpers shared by the VAE blocks. Forwards free their temporaries as they go.</summary>
internal static class VaeOps
{
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
internal sealed class ResnetBlock : nn.Module<Tensor, Tensor>
{
    private readonly GroupNormLayer _norm1, _norm2;
    private readonly ConvLayer _conv1, _conv2;
    private readonly ConvLayer? _ninShortcut;

    public ResnetBlock(long inChannels, long outChannels, ScalarType dtype, Device device) : base(nameof(ResnetBlock))
    {
        register_module("norm1", _norm1 = new GroupNormLayer(inChannels, dtype, device));
        register_module("conv1", _conv1 = new ConvLayer(inChannels, outChannels, 3, 1, 1, dtype, device));
        register_module("norm2", _norm2 = new GroupNormLayer(outChannels, dtype, device));
        register_module("conv2", _conv2 = new ConvLayer(outChannels, outChannels, 3, 1, 1, dtype, device));
        if (inChannels != outChannels) register_module("nin_shortcut", _ninShortcut = new ConvLayer(inChannels, outChannels, 1, 1, 0, dtype, device));
    }

    public override Tensor forward(Tensor x)
    {
        using var a = VaeOps.SwishInPlace(_norm1.call(x));
        using var b = _conv1.call(a);
        using var c = VaeOps.SwishInPlace(_norm2.call(b));
        using var h = _conv2.call(c);
        if (_ninShortcut is null) return Held.Add(x, h);
        using var shortcut = _ninShortcut.call(x);
        return Held.Add(shortcut, h);
    }
}

/// <summary>Single-head self-attention over all H·W positions (C-dim vectors, scale 1/√C), 1×1-conv projections, residual.</summary>
internal sealed class AttnBlock : nn.Module<Tensor, Tensor>
{
    private readonly GroupNormLayer _norm;
    private readonly ConvLayer _q, _k, _v, _projOut;

    public AttnBlock(long channels, ScalarType dtype, Device device) : base(nameof(AttnBlock))
    {
        register_module("norm", _norm = new GroupNormLayer(channels, dtype, device));
        register_module("q", _q = new ConvLayer(channels, channels, 1, 1, 0, dtype, device));
        register_module("k", _k = new ConvLayer(channels, channels, 1, 1, 0, dtype, device));
        register_module("v", _v = new ConvLayer(channels, channels, 1, 1, 0, dtype, device));
        register_module("proj_out", _projOut = new ConvLayer(channels, channels, 1, 1, 0, dtype, device));
    }

    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        using var normed = _norm.call(x);
        // [b, c, h, w] → [b, 1, h·w, c]
        Tensor Tokens(ConvLayer proj)
        {
            using var y = proj.call(normed);
            using var t = y.reshape(b, 1, c, h * w).transpose(2, 3);
            return t.contiguous();
        }
        using var q = Tokens(_q);
        using var k = Tokens(_k);
        using var v = Tokens(_v);
        using var attended = nn.functional.scaled_dot_product_attention(q, k, v);
        using var image = attended.transpose(2, 3).reshape(b, c, h, w);
        using var projected = _projOut.call(image);
        return Held.Add(x, projected);
    }
}

/// <summary>Zero-pad right and bottom by one, then a 3×3 stride-2 conv without padding.</summary>
internal sealed class Downsample : nn.Module<Tensor, Tensor>
{
    private readonly ConvLayer _conv;

    public Downsample(long channels, ScalarType dtype, Device device) : base(nameof(Downsample))
    {
        register_module("conv", _conv = new ConvLayer(channels, channels, 3, 2, 0, dtype, device));
    }

    public override Tensor forward(Tensor x)
    {
        using var padded = nn.functional.pad(x, [0, 1, 0, 1], PaddingModes.Constant, 0);
        return _conv.call(padded);
    }
}

/// <summary>Nearest-neighbour ×2, then a 3×3 conv.</summary>
internal sealed class Upsample : nn.Module<Tensor, Tensor>
{
    private readonly ConvLayer _conv;

    public Upsample(long channels, ScalarType dtype, Device device) : base(nameof(Upsample))
    {
        register_module("conv", _conv = new ConvLayer(channels, channels, 3, 1, 1, dtype, device));
    }

    public override Tensor forward(Tensor x)
    {
        using var up = nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        return _conv.call(up);
    }
}

/// <summary>The mid section shared by encoder and decoder: block_1, attn_1, block_2.</summary>
internal sealed class VaeMid : nn.Module<Tensor, Tensor>
{
    private readonly ResnetBlock _block1, _block2;
    private readonly AttnBlock _attn1;

    public VaeMid(long channels, ScalarType dtype, Device device) : base(nameof(VaeMid))
    {
        register_module("block_1", _block1 = new ResnetBlock(channels, channels, dtype, device));
        register_module("attn_1", _attn1 = new AttnBlock(channels, dtype, device));
        register_module("block_2", _block2 = new ResnetBlock(channels, channels, dtype, device));
    }

    public override Tensor forward(Tensor x)
    {
        var h = _block1.call(x);
        h = VaeOps.Replace(h, _attn1.call(h));
        return VaeOps.Replace(h, _block2.call(h));
    }
}
