using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Sampling;

/// <summary>
/// "github2025": the Aug-2025 GitHub <c>FlowMatchingHead.sample</c> (S-OLD). Grid <c>linspace(0, 1 − 0.04, N)</c>
/// on the CPU, shifted; N − 1 SDE steps (<see cref="ScoreSde"/>), then one deterministic step <c>x + 0.04·v</c> at
/// the last grid point (0.04 even when the shift ends the grid short of 0.96). N tiled float32 draws of
/// [noise_repeat, D]: the initial noise, then one per SDE step. Needs N ≥ 2 (the official code fails below).
/// </summary>
public sealed class Github2025Sampler : IFlowSampler
{
    /// <summary>The official <c>last_step_size</c>.</summary>
    public const double LastStepSize = 0.04;

    public string Name => Samplers.Github2025;

    public Tensor Timesteps(SamplerSettings s) => TimeGrid.ToLastStep(s.NumSamplingSteps, s.TimestepsShift, LastStepSize);

    public int NoiseDraws(SamplerSettings s) => s.NumSamplingSteps;

    public Tensor Sample(VelocityNet net, Tensor c, SamplerSettings s, NoiseSource? noise = null)
    {
        noise ??= Noise.Randn;
        SamplerChecks.CheckSdeOnly(Name, s);
        var (guide, rows) = SamplerChecks.Resolve(Name, s, c, minSteps: 2);
        SamplerChecks.CheckRepeat(Name, s, rows);
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        var x = ScoreSde.TiledNoise(noise, s, rows, c.device);
        var grid = Timesteps(s);
        for (int k = 0; k + 1 < s.NumSamplingSteps; k++)
        {
            var ti = grid[k];
            var dt = grid[k + 1] - ti;
            var v = guide.Velocity(net, x, ti, c);
            var w = ScoreSde.TiledNoise(noise, s, rows, c.device);
            x = ScoreSde.Step(x, v, ti, dt, w);
        }
        var last = guide.Velocity(net, x, grid[s.NumSamplingSteps - 1], c);
        using TorchSharp.Scalar lastStep = LastStepSize; // held until the call returns (see ScoreSde.Step)
        x = Held.Add(x, last * lastStep);
        return x.to(c.dtype).MoveToOuterDisposeScope();
    }
}
