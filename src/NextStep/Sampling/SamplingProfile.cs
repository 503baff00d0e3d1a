using System.Text.RegularExpressions;
using NextStep.Config;

namespace NextStep.Sampling;

/// <summary>
/// The sampling defaults a checkpoint is meant to run with: the official sampler of the code published with it,
/// its "linear" CFG formula, <c>use_norm</c>, and the recommended steps, shift and guidance.
/// <list type="bullet">
/// <item><see cref="Large"/>, <see cref="LargeEdit"/>: the Hugging Face model-card code (<see cref="Samplers.Hf"/>, which
/// the Aug-2025 GitHub README recommends over its own sampler), decreasing linear CFG, use_norm on, 50 steps; shift 1.0
/// (text-to-image) or 3.2 with cfg_img 2.0 (editing), cfg 7.5.</item>
/// <item><see cref="V11"/>: the Feb-2026 GitHub inference and eval code that ships with NextStep-1.1
/// (<see cref="Samplers.V11"/>, "sde": the Flow-GRPO process its RL post-training belongs to), increasing linear CFG,
/// use_norm off, 28 steps, shift 1.0, cfg 7.5.</item>
/// </list>
/// </summary>
public sealed record SamplingProfile(
    string Name,
    string Sampler,
    LinearCfgForm LinearCfg,
    bool UseNorm,
    int NumSamplingSteps,
    double TimestepsShift,
    double Cfg,
    double CfgImg,
    string SdeType = "sde",
    int Height = 256,
    int Width = 256,
    int Candidates = 1)
{
    /// <summary>The file in a model folder that states the model's own sampling defaults (see <see cref="FromFile"/>).</summary>
    public const string FileName = "sampling_profile.json";

    public static readonly SamplingProfile Large = new("NextStep-1-Large", Samplers.Hf, LinearCfgForm.Decreasing, true, 50, 1.0, 7.5, 1.0);
    public static readonly SamplingProfile LargeEdit = new("NextStep-1-Large-Edit", Samplers.Hf, LinearCfgForm.Decreasing, true, 50, 3.2, 7.5, 2.0);
    public static readonly SamplingProfile V11 = new("NextStep-1.1", Samplers.V11, LinearCfgForm.Increasing, false, 28, 1.0, 7.5, 1.0);

    /// <summary>
    /// The profile a model folder states in <see cref="FileName"/>, or null when it has none. Keys: <c>sampler</c>
    /// (required), <c>num_sampling_steps</c>, <c>cfg</c>, <c>cfg_img</c>, <c>use_norm</c>, <c>timesteps_shift</c>,
    /// <c>sde_type</c> (v1.1 only), <c>height</c>, <c>width</c>, <c>candidates</c> (best of K, <see cref="Pipeline.GenerationRequest.Candidates"/>);
    /// missing keys take the NextStep-1-Large values, 256×256 and 1 candidate.
    /// </summary>
    public static SamplingProfile? FromFile(string modelFolder)
    {
        var path = Path.Combine(modelFolder, FileName);
        if (!File.Exists(path)) return null;
        var j = JsonConfig.Load(path);
        var sampler = j.StringOrNull("sampler") ?? throw new NextStepException($"{path}: \"sampler\" is required (one of {string.Join(", ", Samplers.Names)})");
        if (!Samplers.Names.Contains(sampler)) throw new NextStepException($"{path}: sampler \"{sampler}\" is unknown (expected one of {string.Join(", ", Samplers.Names)})");
        var profile = new SamplingProfile(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder))), sampler,
            sampler == Samplers.V11 ? LinearCfgForm.Increasing : LinearCfgForm.Decreasing,
            j.Bool("use_norm", Large.UseNorm), j.Int("num_sampling_steps", Large.NumSamplingSteps), j.Double("timesteps_shift", Large.TimestepsShift),
            j.Double("cfg", Large.Cfg), j.Double("cfg_img", Large.CfgImg), j.StringOrNull("sde_type") ?? "sde", j.Int("height", 256), j.Int("width", 256), j.Int("candidates", 1));
        if (profile.NumSamplingSteps < 1 || profile.Cfg < 1 || profile.CfgImg < 1 || profile.TimestepsShift <= 0 || profile.Height <= 0 || profile.Width <= 0 || profile.Candidates < 1)
            throw new NextStepException($"{path}: expected num_sampling_steps ≥ 1, cfg ≥ 1, cfg_img ≥ 1, timesteps_shift > 0, positive height/width and candidates ≥ 1");
        if (profile.SdeType is not ("sde" or "cps" or "ode")) throw new NextStepException($"{path}: sde_type \"{profile.SdeType}\": expected sde, cps or ode");
        return profile;
    }

    /// <summary>
    /// Picks the profile of a model folder: its own <see cref="FileName"/> when present. NextStep-1.1 is recognised by any of: a folder name with "NextStep-1.1"
    /// (also "1p1", "_" or no separator), its <c>vae/nextstep_ae.py</c>, or <c>base_image_grid_size</c> 64 (the 1.1
    /// config; the NextStep-1 configs have 32). Otherwise a folder name containing "edit" gives
    /// <see cref="LargeEdit"/>, and everything else <see cref="Large"/>.
    /// </summary>
    public static SamplingProfile For(NextStepConfig config, string modelFolder)
    {
        if (FromFile(modelFolder) is { } own) return own;
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder)));
        bool v11 = Regex.IsMatch(name, @"nextstep[-_ ]?1(\.|p|_)1", RegexOptions.IgnoreCase)
                   || File.Exists(Path.Combine(modelFolder, "vae", "nextstep_ae.py"))
                   || config.BaseImageGridSize == 64;
        if (v11) return V11;
        return name.Contains("edit", StringComparison.OrdinalIgnoreCase) ? LargeEdit : Large;
    }
}
