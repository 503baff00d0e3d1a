using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Sampling;

/// <summary>
/// Classifier-free guidance over block-major condition rows <c>[cond (B); uncond1 (B); uncond2 (B)]</c>.
/// Every block sees the same x and t; only the conditions differ.
/// </summary>
public static class Guidance
{
    /// <summary>The official count of condition blocks: <c>1 + [cfg &gt; 1] + [cfg_img &gt; 1]</c>.</summary>
    public static int CfgMult(double cfg, double cfgImg) => 1 + (cfg > 1.0 ? 1 : 0) + (cfgImg > 1.0 ? 1 : 0);

    /// <summary>
    /// Combines the per-block velocities v [cfgMult·B, D] into [B, D]:
    /// 2 blocks: <c>v_u + cfg·(v_c − v_u)</c>; 3 blocks: <c>v_u2 + cfg_img·(v_u1 − v_u2) + cfg·(v_c − v_u1)</c>.
    /// </summary>
    public static Tensor Combine(Tensor v, double cfg, double cfgImg, int cfgMult)
    {
        // Held until the calls return: an implicitly converted Scalar is freed by its finalizer, possibly mid-call.
        using TorchSharp.Scalar text = cfg, image = cfgImg;
        switch (cfgMult)
        {
            case 1: return v;
            case 2:
            {
                var b = v.chunk(2, 0);
                return Held.Add(b[1], (b[0] - b[1]) * text);
            }
            case 3:
            {
                var b = v.chunk(3, 0);
                return Held.Add(Held.Add(b[2], (b[1] - b[2]) * image), (b[0] - b[1]) * text);
            }
            default: throw new NextStepException($"cfg_mult {cfgMult}: expected 1, 2 or 3 condition blocks");
        }
    }
}

/// <summary>The guidance of one sample call, resolved and checked (see <see cref="SamplerSettings"/>).</summary>
internal readonly record struct Guide(double Cfg, double CfgImg, int Mult)
{
    /// <summary>
    /// The guided velocity at time ti (a 0-dim float32 tensor): x is repeated once per block and cast to the model
    /// dtype (c's), t is ti cast to the model dtype, and the network's output is cast to float32 before combining.
    /// </summary>
    public Tensor Velocity(VelocityNet net, Tensor x, Tensor ti, Tensor c)
    {
        var blocks = cat(Enumerable.Repeat(x, Mult).ToList(), 0).to(c.dtype);
        var t = ti.expand(c.shape[0]).to(c.dtype, c.device);
        var v = net(blocks, t, c).to(ScalarType.Float32);
        return Guidance.Combine(v, Cfg, CfgImg, Mult);
    }
}
