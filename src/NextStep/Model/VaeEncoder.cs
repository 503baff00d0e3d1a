using NextStep.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// Pixels [B, in, H, W] → moments [B, 2·z, H/f, W/f] (mean ‖ logvar). Keys under <c>encoder.</c>: conv_in,
/// down.{l}.block.{b}, down.{l}.downsample (all but the last level), mid, norm_out, conv_out.
/// </summary>
internal sealed class VaeEncoder : nn.Module<Tensor, Tensor>
{
    /// <summary>One resolution level: <c>block.{b}</c> ResnetBlocks, then an optional <c>downsample</c>.</summary>
    private sealed class Level : nn.Module<Tensor, Tensor>
    {
        private readonly ModuleList<ResnetBlock> _block = new();
        private readonly Downsample? _downsample;

        public Level(long inChannels, long outChannels, int blocks, bool downsample, ScalarType dtype, Device device) : base(nameof(Level))
        {
            for (int b = 0; b < blocks; b++) _block.Add(new ResnetBlock(b == 0 ? inChannels : outChannels, outChannels, dtype, device));
            register_module("block", _block);
            if (downsample) register_module("downsample", _downsample = new Downsample(outChannels, dtype, device));
        }

        public override Tensor forward(Tensor x)
        {
            var h = x.alias();
            foreach (var block in _block) h = VaeOps.Replace(h, block.call(h));
            return _downsample is null ? h : VaeOps.Replace(h, _downsample.call(h));
        }
    }

    private readonly ConvLayer _convIn, _convOut;
    private readonly ModuleList<Level> _down = new();
    private readonly VaeMid _mid;
    private readonly GroupNormLayer _normOut;

    public VaeEncoder(VaeConfig c, ScalarType dtype, Device device) : base(nameof(VaeEncoder))
    {
        register_module("conv_in", _convIn = new ConvLayer(c.InChannels, c.Ch, 3, 1, 1, dtype, device));
        long channels = c.Ch;
        for (int l = 0; l < c.ChMult.Length; l++)
        {
            long outChannels = (long)c.Ch * c.ChMult[l];
            _down.Add(new Level(channels, outChannels, c.NumResBlocks, downsample: l != c.ChMult.Length - 1, dtype, device));
            channels = outChannels;
        }
        register_module("down", _down);
        register_module("mid", _mid = new VaeMid(channels, dtype, device));
        register_module("norm_out", _normOut = new GroupNormLayer(channels, dtype, device));
        register_module("conv_out", _convOut = new ConvLayer(channels, 2L * c.ZChannels, 3, 1, 1, dtype, device));
    }

    public override Tensor forward(Tensor x)
    {
        var h = _convIn.call(x);
        foreach (var level in _down) h = VaeOps.Replace(h, level.call(h));
        h = VaeOps.Replace(h, _mid.call(h));
        h = VaeOps.Replace(h, VaeOps.SwishInPlace(_normOut.call(h)));
        return VaeOps.Replace(h, _convOut.call(h));
    }
}
