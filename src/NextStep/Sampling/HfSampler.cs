using static TorchSharp.torch;

namespace NextStep.Sampling;

/// <summary>
/// "hf": the Hugging Face NextStep-1-Large remote-code sampler (<c>models/heads.py</c>, S-HF). Grid
/// <c>linspace(0, 1, N + 1)</c> without its last point, shifted, then 1.0, on c's device; all N steps are SDE steps
/// (<see cref="ScoreSde"/>), the last one ending at t = 1 and still adding noise. N + 1 tiled draws of
/// [noise_repeat, D], always float32 (also for a bf16 head).
/// </summary>
public sealed class HfSampler : IFlowSampler
{
    public string Name => Samplers.Hf;

    public Tensor Timesteps(SamplerSettings s) => TimeGrid.ToOne(s.NumSamplingSteps, s.TimestepsShift, CPU);

    public int NoiseDraws(SamplerSettings s) => s.NumSamplingSteps + 1;

    public Tensor Sample(VelocityNet net, Tensor c, SamplerSettings s, NoiseSource? noise = null)
    {
        noise ??= Noise.Randn;
        SamplerChecks.CheckSdeOnly(Name, s);
        var (guide, rows) = SamplerChecks.Resolve(Name, s, c, minSteps: 1);
        SamplerChecks.CheckRepeat(Name, s, rows);
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        var x = ScoreSde.TiledNoise(noise, s, rows, c.device);
        var grid = TimeGrid.ToOne(s.NumSamplingSteps, s.TimestepsShift, c.device);
        for (int k = 0; k < s.NumSamplingSteps; k++)
        {
            var ti = grid[k];
            var dt = grid[k + 1] - ti;
            var v = guide.Velocity(net, x, ti, c);
            var w = ScoreSde.TiledNoise(noise, s, rows, c.device);
            x = ScoreSde.Step(x, v, ti, dt, w);
        }
        return x.to(c.dtype).MoveToOuterDisposeScope();
    }
}
