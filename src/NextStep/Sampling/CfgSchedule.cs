namespace NextStep.Sampling;

/// <summary>How the guidance scales change over the image tokens (<c>cfg_schedule</c>).</summary>
public enum CfgSchedule
{
    /// <summary>The scale is used as given for every token.</summary>
    Constant,
    /// <summary>A linear ramp; which one depends on the pipeline (<see cref="LinearCfgForm"/>).</summary>
    Linear,
}

/// <summary>The two official "linear" formulas (they must not be mixed).</summary>
public enum LinearCfgForm
{
    /// <summary>Aug-2025 GitHub and Hugging Face pipelines ("follow Muse"): <c>1 + (cfg − 1)·(n − k)/n</c>, from cfg
    /// at the first token down to <c>1 + (cfg − 1)/n</c>.</summary>
    Decreasing,
    /// <summary>Feb-2026 pipeline (NextStep-1.1): <c>max(cfg/2, 1 + (cfg − 1)·k/n)</c>, from <c>max(cfg/2, 1)</c> up
    /// towards cfg. At cfg ≤ 2 the first token gets 1, so pass the row layout's
    /// <see cref="SamplerSettings.CfgMult"/> to the sampler.</summary>
    Increasing,
}

public static class CfgSchedules
{
    public static IReadOnlyList<string> Names { get; } = new[] { "constant", "linear" };

    /// <summary>Parses <c>cfg_schedule</c>: "constant" or "linear".</summary>
    public static CfgSchedule Parse(string name) => name switch
    {
        "constant" => CfgSchedule.Constant,
        "linear" => CfgSchedule.Linear,
        _ => throw new NextStepException($"cfg_schedule \"{name}\" is unknown (expected one of: {string.Join(", ", Names)})"),
    };

    /// <summary>
    /// The scale for the image token with <paramref name="generated"/> = k tokens already sampled out of
    /// <paramref name="total"/> = n (k = 0 for the first token). Apply it to cfg and to cfg_img alike.
    /// </summary>
    public static double At(CfgSchedule schedule, LinearCfgForm form, double scale, int generated, int total)
    {
        if (total < 1 || generated < 0 || generated >= total)
            throw new NextStepException($"cfg schedule: token {generated} of {total} is out of range (expected 0 ≤ k < n)");
        if (schedule == CfgSchedule.Constant) return scale;
        return form == LinearCfgForm.Decreasing
            ? 1 + (scale - 1) * (total - generated) / total
            : Math.Max(scale / 2, 1 + (scale - 1) * generated / total);
    }
}
