using static TorchSharp.torch;

namespace NextStep.Sampling;

/// <summary>
/// The head network <c>v = net(x, t, c)</c> (official <c>SimpleMLPAdaLN</c>): x [R, D] noisy tokens and t [R] times,
/// both already cast to the model dtype, c [R, cond] conditions; returns the velocity [R, D] in the model dtype.
/// </summary>
public delegate Tensor VelocityNet(Tensor x, Tensor t, Tensor c);

/// <summary>
/// Draws one standard-normal tensor of the given shape and dtype on the given device. The default,
/// <see cref="Noise.Randn"/>, is <c>torch.randn</c> on the global generator (seed it with <c>torch.manual_seed</c>);
/// tests pass their own to record or inject draws.
/// </summary>
public delegate Tensor NoiseSource(long[] shape, ScalarType dtype, Device device);

public static class Noise
{
    /// <summary><c>torch.randn(shape, dtype, device)</c> on the global generator, as the official samplers call it.</summary>
    public static readonly NoiseSource Randn = (shape, dtype, device) => randn(shape, dtype, device);
}

/// <summary>
/// Arguments of one <c>FlowMatchingHead.sample</c> call, named as in the official code.
/// </summary>
/// <param name="Cfg">Text guidance scale (≥ 1; guidance rows exist when &gt; 1).</param>
/// <param name="CfgImg">Image guidance scale (<c>cfg2</c> in the Aug-2025 code; ≥ 1).</param>
/// <param name="NumSamplingSteps">N: network calls per token.</param>
/// <param name="TimestepsShift">s in the grid shift <c>t / (s − (s − 1)·t)</c>; &gt; 0.</param>
/// <param name="NoiseRepeat">r: the tiled samplers draw [r, D] and tile it over the B rows (B must be a multiple of r).
/// The pipeline passes images-per-caption. Ignored by <c>v1.1</c>, as in the official code.</param>
/// <param name="SdeType"><c>v1.1</c> only: "sde" (default), "cps" or "ode". The other samplers are SDEs and accept only "sde".</param>
/// <param name="CfgMult">Condition blocks in c (1, 2 or 3). Null derives <c>1 + [cfg &gt; 1] + [cfg_img &gt; 1]</c> from the
/// scales, as every official sampler does; pass the row layout's count when a schedule can bring a scale down to 1
/// while the guidance rows still exist (the increasing "linear" schedule at cfg ≤ 2).</param>
/// <param name="TokenDim">D, the token width (latent_channels · patch²; 64 for every released checkpoint).</param>
public sealed record SamplerSettings(
    double Cfg = 1.0,
    double CfgImg = 1.0,
    int NumSamplingSteps = 20,
    double TimestepsShift = 1.0,
    int NoiseRepeat = 1,
    string SdeType = "sde",
    int? CfgMult = null,
    int TokenDim = 64);

/// <summary>
/// One official flow-matching sampler: turns the conditions c [R, cond] (R = B · cfg_mult rows, block-major
/// [cond; uncond1; uncond2]) into B image tokens [B, D] in c's dtype, drawing its noise from <paramref name="noise"/>
/// in the official order, shapes and dtypes.
/// </summary>
public interface IFlowSampler
{
    /// <summary>"github2025", "hf" or "v1.1" (see <see cref="Samplers"/>).</summary>
    string Name { get; }

    /// <summary>The time grid the sampler walks, float32 on the CPU (what its loop iterates over).</summary>
    Tensor Timesteps(SamplerSettings s);

    /// <summary>How many noise tensors one <see cref="Sample"/> call draws.</summary>
    int NoiseDraws(SamplerSettings s);

    Tensor Sample(VelocityNet net, Tensor c, SamplerSettings s, NoiseSource? noise = null);
}
