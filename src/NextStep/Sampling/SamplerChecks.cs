using static TorchSharp.torch;

namespace NextStep.Sampling;

/// <summary>Argument checks shared by the samplers; every message names the sampler, the setting and its value.</summary>
internal static class SamplerChecks
{
    /// <summary>Checks the settings and c, and resolves the guidance and the number of real rows B.</summary>
    public static (Guide Guide, long Rows) Resolve(string sampler, SamplerSettings s, Tensor c, int minSteps)
    {
        string Where(string what) => $"sampler {sampler}: {what}";
        if (s.NumSamplingSteps < minSteps)
            throw new NextStepException(Where($"num_sampling_steps = {s.NumSamplingSteps}, expected at least {minSteps}"));
        if (!(s.Cfg >= 1.0)) throw new NextStepException(Where($"cfg = {s.Cfg}, expected a number ≥ 1 (1 = no text guidance)"));
        if (!(s.CfgImg >= 1.0)) throw new NextStepException(Where($"cfg_img = {s.CfgImg}, expected a number ≥ 1 (1 = no image guidance)"));
        if (!(s.TimestepsShift > 0.0) || double.IsInfinity(s.TimestepsShift))
            throw new NextStepException(Where($"timesteps_shift = {s.TimestepsShift}, expected a positive number"));
        if (s.NoiseRepeat < 1) throw new NextStepException(Where($"noise_repeat = {s.NoiseRepeat}, expected at least 1"));
        if (s.TokenDim < 1) throw new NextStepException(Where($"token dim = {s.TokenDim}, expected at least 1"));

        int derived = Guidance.CfgMult(s.Cfg, s.CfgImg);
        int mult = s.CfgMult ?? derived;
        if (s.CfgMult == null && s.Cfg == 1.0 && s.CfgImg > 1.0)
            throw new NextStepException(Where($"cfg_img = {s.CfgImg} needs cfg > 1: image guidance rows come after the text guidance rows (found cfg = 1)"));
        if (mult < derived || mult > 3)
            throw new NextStepException(Where($"cfg_mult = {mult}, expected {derived}..3 condition blocks for cfg = {s.Cfg}, cfg_img = {s.CfgImg}"));

        if (c.dim() != 2 || c.shape[0] == 0 || c.shape[0] % mult != 0)
            throw new NextStepException(Where($"conditions of shape [{string.Join(", ", c.shape)}], expected [rows, features] with rows a positive multiple of cfg_mult = {mult}"));
        return (new Guide(s.Cfg, s.CfgImg, mult), c.shape[0] / mult);
    }

    /// <summary>The tiled samplers draw [r, D] and repeat it over the B rows, so r must divide B.</summary>
    public static void CheckRepeat(string sampler, SamplerSettings s, long rows)
    {
        if (rows % s.NoiseRepeat != 0)
            throw new NextStepException($"sampler {sampler}: noise_repeat = {s.NoiseRepeat} must divide the {rows} sampled rows (images per caption × captions)");
    }

    /// <summary>Only the Feb-2026 sampler has a choice of process; the others are the SDE.</summary>
    public static void CheckSdeOnly(string sampler, SamplerSettings s)
    {
        if (s.SdeType != "sde")
            throw new NextStepException($"sampler {sampler}: sde_type \"{s.SdeType}\" is not available (only \"sde\"; \"cps\" and \"ode\" need sampler {Samplers.V11})");
    }
}
