using NextStep.Loading;
using NextStep.Model;
using NextStep.Sampling;
using NextStep.Tests.Support;
using static TorchSharp.torch;

namespace NextStep.Tests.Sampling;

/// <summary>The tiny checkpoint's head network (<c>image_head.net.*</c>), in float32 or bf16, loaded once.</summary>
public static class TinyHead
{
    private static readonly Dictionary<ScalarType, SimpleMLPAdaLN> Nets = new();

    public static VelocityNet Net(ScalarType dtype)
    {
        var net = Module(dtype);
        return (x, t, c) => net.forward(x, t, c);
    }

    public static SimpleMLPAdaLN Module(ScalarType dtype)
    {
        lock (Nets)
        {
            if (!Nets.TryGetValue(dtype, out var net)) Nets[dtype] = net = Load(dtype);
            return net;
        }
    }

    private static SimpleMLPAdaLN Load(ScalarType dtype)
    {
        using var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        var cfg = NextStep.Config.NextStepConfig.Load(Fixtures.Path("tiny", "model", "config.json"));
        var net = new SimpleMLPAdaLN(cfg.TokenDim, cfg.HiddenSize, cfg.FmHeadDim, cfg.FmHeadLayers, cfg.FmHeadMlpRatio, dtype, CPU);
        using var _ = no_grad();
        foreach (var (name, p) in net.named_parameters())
        {
            using var w = ck.Load("image_head.net." + name, dtype);
            p.copy_(w);
        }
        net.eval();
        return net;
    }
}
