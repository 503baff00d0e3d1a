using NextStep.Config;

namespace NextStep.Sampling;

/// <summary>The three official samplers by name.</summary>
public static class Samplers
{
    /// <summary>Aug-2025 GitHub code (<see cref="Github2025Sampler"/>).</summary>
    public const string Github2025 = "github2025";
    /// <summary>Hugging Face NextStep-1-Large remote code (<see cref="HfSampler"/>).</summary>
    public const string Hf = "hf";
    /// <summary>Feb-2026 GitHub inference code, NextStep-1.1 (<see cref="V11Sampler"/>).</summary>
    public const string V11 = "v1.1";

    public static IReadOnlyList<string> Names { get; } = new[] { Hf, Github2025, V11 };

    public static IFlowSampler Create(string name) => name switch
    {
        Github2025 => new Github2025Sampler(),
        Hf => new HfSampler(),
        V11 => new V11Sampler(),
        _ => throw new NextStepException($"sampler \"{name}\" is unknown (expected one of: {string.Join(", ", Names)})"),
    };

    /// <summary>The sampler a checkpoint runs with by default (<see cref="SamplingProfile.For"/>).</summary>
    public static string DefaultFor(NextStepConfig config, string modelFolder) => SamplingProfile.For(config, modelFolder).Sampler;
}
