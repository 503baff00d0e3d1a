namespace NextStep.Training;

/// <summary>
/// Learning-rate multipliers, as the official <c>get_scheduler</c>: linear warm-up from 0 over
/// <see cref="WarmupSteps"/> updates, then either constant or cosine decay blended with <see cref="ScaleLr"/>:
/// (1 − scale_lr)·max(0, ½(1 + cos(π·progress))) + scale_lr. With scale_lr = 1 (the shipped configs) the cosine
/// schedule is constant after warm-up. Update k (0-based) uses lr·Lambda(k).
/// </summary>
public sealed record LrSchedule(string Kind, int WarmupSteps, int TotalSteps, double ScaleLr = 1.0)
{
    public const string Constant = "constant";
    public const string Cosine = "cosine";

    public static LrSchedule Create(string kind, int warmupSteps, int totalSteps, double scaleLr = 1.0)
    {
        if (kind != Constant && kind != Cosine)
            throw new NextStepException($"unknown learning-rate schedule \"{kind}\" (expected \"{Constant}\" or \"{Cosine}\")");
        if (warmupSteps < 0) throw new NextStepException($"warm-up steps must be ≥ 0, found {warmupSteps}");
        if (kind == Cosine && totalSteps <= warmupSteps)
            throw new NextStepException($"cosine schedule needs more total steps ({totalSteps}) than warm-up steps ({warmupSteps})");
        return new LrSchedule(kind, warmupSteps, totalSteps, scaleLr);
    }

    public double Lambda(long step)
    {
        if (step < WarmupSteps) return (double)step / Math.Max(1, WarmupSteps);
        if (Kind == Constant) return 1.0;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        double cosine = Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * 2.0 * 0.5 * progress)));
        return (1 - ScaleLr) * cosine + ScaleLr;
    }
}
