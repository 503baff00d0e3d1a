using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Sampling;

/// <summary>
/// "v1.1": the Feb-2026 GitHub <c>inference/nextstep_model.py</c> sampler used for NextStep-1.1 (S-NEW). Same grid
/// as <see cref="HfSampler"/>. Noise is drawn untiled as [B, D] in c's dtype (noise_repeat is ignored), and x starts
/// in that dtype (it becomes float32 at the first update). Per step, with v the guided velocity,
/// x0 = x − tᵢ·v (noise estimate) and x1 = x + (1 − tᵢ)·v (data estimate):
/// <list type="bullet">
/// <item>"sde" (Flow-GRPO SDE, noise level 0.8): σ = 1 − tᵢ, std = 0.8·sqrt(σ / (1 − σ′)) with σ′ = σ except at σ = 1,
/// where σ′ is <c>sigma_max</c> = the grid's next-to-last <i>time</i> value (the official quirk, kept);
/// x ← x0(1 − tⱼ) + x1·tⱼ − std²·dt/(2σ)·x0 + std·sqrt(dt)·ε.</item>
/// <item>"cps" (Flow-CPS): std = (1 − tⱼ)·sin(0.8·π/2); x ← x0·sqrt((1 − tⱼ)² − std²) + x1·tⱼ + std·ε.</item>
/// <item>"ode": x ← x0(1 − tⱼ) + x1·tⱼ (Euler).</item>
/// </list>
/// Draws: 1 + N for "sde" and "cps", 1 for "ode". (The official velocity-norm clamp of
/// <c>get_velocity_from_cfg(normalize=True)</c> is off in its sampler, and so here.)
/// </summary>
public sealed class V11Sampler : IFlowSampler
{
    public static readonly string[] SdeTypes = { "sde", "cps", "ode" };

    /// <summary>The official <c>noise_level</c>.</summary>
    public const double NoiseLevel = 0.8;

    public string Name => Samplers.V11;

    public Tensor Timesteps(SamplerSettings s) => TimeGrid.ToOne(s.NumSamplingSteps, s.TimestepsShift, CPU);

    public int NoiseDraws(SamplerSettings s) => s.SdeType == "ode" ? 1 : 1 + s.NumSamplingSteps;

    public Tensor Sample(VelocityNet net, Tensor c, SamplerSettings s, NoiseSource? noise = null)
    {
        noise ??= Noise.Randn;
        if (!SdeTypes.Contains(s.SdeType))
            throw new NextStepException($"sampler {Name}: sde_type \"{s.SdeType}\" is unknown (expected one of: {string.Join(", ", SdeTypes)})");
        var (guide, rows) = SamplerChecks.Resolve(Name, s, c, minSteps: 1);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        // Held until the calls return: an implicitly converted Scalar is freed by its finalizer, possibly mid-call
        // (see AdamW.Update).
        using TorchSharp.Scalar one = 1, two = 2, noiseLevel = NoiseLevel, cpsScale = Math.Sin(NoiseLevel * Math.PI / 2);

        Tensor Draw() => noise(new[] { rows, s.TokenDim }, c.dtype, c.device);
        var x = Draw();
        var grid = TimeGrid.ToOne(s.NumSamplingSteps, s.TimestepsShift, c.device);
        var sigmaMax = grid[s.NumSamplingSteps - 1];
        for (int k = 0; k < s.NumSamplingSteps; k++)
        {
            var ti = grid[k];
            var tj = grid[k + 1];
            var v = guide.Velocity(net, x, ti, c);
            var curT = ti.view(1, 1);
            var nextT = tj.view(1, 1);
            var x0 = x - v * curT;
            var restNow = Held.Sub(one, curT);
            var restNext = Held.Sub(one, nextT);
            var x1 = Held.Add(x, v * restNow);
            switch (s.SdeType)
            {
                case "sde":
                {
                    var sigma = restNow;
                    var dt = tj - ti;
                    var std = (sigma / Held.Sub(one, where(sigma.eq(one), sigmaMax, sigma))).sqrt() * noiseLevel;
                    var eps = Draw();
                    x = Held.Add(x0 * restNext, x1 * nextT) - Held.Square(std) * dt / (two * sigma) * x0;
                    x = Held.Add(x, std * dt.sqrt() * eps);
                    break;
                }
                case "cps":
                {
                    var std = restNext * cpsScale;
                    var eps = Draw();
                    x = Held.Add(Held.Add(x0 * (Held.Square(restNext) - Held.Square(std)).sqrt(), x1 * nextT), std * eps);
                    break;
                }
                default:
                    x = Held.Add(x0 * restNext, x1 * nextT);
                    break;
            }
        }
        return x.to(c.dtype).MoveToOuterDisposeScope();
    }
}
