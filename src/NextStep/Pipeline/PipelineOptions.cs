using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Pipeline;

/// <summary>Where and in which precision the pipeline runs.</summary>
public sealed record PipelineOptions
{
    /// <summary>Compute dtype of the backbone, head and VAE (float32 or bfloat16).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    public DeviceType Device { get; init; } = DeviceType.CPU;
    /// <summary>Store the backbone's linear weights and embeddings as int8 with per-row scales (about a quarter of float32's memory).</summary>
    public bool Int8 { get; init; }
    /// <summary>A tokenizer folder other than the model folder (null = the model folder).</summary>
    public string? TokenizerFolder { get; init; }

    public static ScalarType ParseDType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        _ => throw new NextStepException($"dtype \"{text}\": expected float32 or bfloat16"),
    };

    public static DeviceType ParseDevice(string text)
    {
        var d = text.Trim().ToLowerInvariant() switch
        {
            "cpu" => DeviceType.CPU,
            "cuda" or "gpu" => DeviceType.CUDA,
            _ => throw new NextStepException($"device \"{text}\": expected cpu or cuda"),
        };
        if (d == DeviceType.CUDA && !torch.cuda.is_available())
            throw new NextStepException("device \"cuda\": no CUDA device is available to this build (use --device cpu; CUDA needs a CUDA libtorch, docs/training.md)");
        return d;
    }
}

/// <summary>Progress of one generation, reported after every image token.</summary>
public sealed record GenerationProgress(int Token, int TotalTokens, int Images, TimeSpan Elapsed)
{
    public double TokensPerSecond => Elapsed.TotalSeconds > 0 ? Token / Elapsed.TotalSeconds : 0;
}
