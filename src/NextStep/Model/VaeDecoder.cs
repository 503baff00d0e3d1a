using NextStep.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// Latent [B, z, h, w] → pixels [B, out, h·f, w·f]. Keys under <c>decoder.</c>: conv_in, mid, up.{l}.block.{b}
/// (num_res_blocks + 1 blocks), up.{l}.upsample (all but level 0), norm_out, conv_out. <c>up[l]</c> holds level l's
/// blocks and runs from the deepest level (l = last) to level 0.
/// </summary>
internal sealed class VaeDecoder : nn.Module<Tensor, Tensor>
{
    /// <summary>One resolution level: <c>block.{b}</c> ResnetBlocks, then an optional <c>upsample</c>.</summary>
    private sealed class Level : nn.Module<Tensor, Tensor>
    {
        private readonly ModuleList<ResnetBlock> _block = new();
        private readonly Upsample? _upsample;

        public Level(long inChannels, long outChannels, int blocks, bool upsample, ScalarType dtype, Device device) : base(nameof(Level))
        {
            for (int b = 0; b < blocks; b++) _block.Add(new ResnetBlock(b == 0 ? inChannels : outChannels, outChannels, dtype, device));
            register_module("block", _block);
            if (upsample) register_module("upsample", _upsample = new Upsample(outChannels, dtype, device));
        }

        public override Tensor forward(Tensor x)
        {
            var h = x.alias();
            foreach (var block in _block) h = VaeOps.Replace(h, block.call(h));
            return _upsample is null ? h : VaeOps.Replace(h, _upsample.call(h));
        }
    }

    private readonly ConvLayer _convIn, _convOut;
    private readonly VaeMid _mid;
    private readonly ModuleList<Level> _up = new();
    private readonly GroupNormLayer _normOut;

    public VaeDecoder(VaeConfig c, ScalarType dtype, Device device) : base(nameof(VaeDecoder))
    {
        int levels = c.ChMult.Length;
        long channels = (long)c.Ch * c.ChMult[^1];
        register_module("conv_in", _convIn = new ConvLayer(c.ZChannels, channels, 3, 1, 1, dtype, device));
        register_module("mid", _mid = new VaeMid(channels, dtype, device));
        var up = new Level[levels];
        for (int l = levels - 1; l >= 0; l--)
        {
            long outChannels = (long)c.Ch * c.ChMult[l];
            up[l] = new Level(channels, outChannels, c.NumResBlocks + 1, upsample: l != 0, dtype, device);
            channels = outChannels;
        }
        foreach (var level in up) _up.Add(level);
        register_module("up", _up);
        register_module("norm_out", _normOut = new GroupNormLayer(channels, dtype, device));
        register_module("conv_out", _convOut = new ConvLayer(channels, c.OutCh, 3, 1, 1, dtype, device));
    }

    public override Tensor forward(Tensor z)
    {
        var h = _convIn.call(z);
        h = VaeOps.Replace(h, _mid.call(h));
        for (int l = _up.Count - 1; l >= 0; l--) h = VaeOps.Replace(h, _up[l].call(h));
        h = VaeOps.Replace(h, VaeOps.SwishInPlace(_normOut.call(h)));
        return VaeOps.Replace(h, _convOut.call(h));
    }
}
