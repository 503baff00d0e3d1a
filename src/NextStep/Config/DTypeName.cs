using static TorchSharp.torch;

namespace NextStep.Config;

/// <summary>The floating-point dtypes by their PyTorch names (as <c>torch_dtype</c> in config.json writes them), with short aliases.</summary>
public static class DTypeName
{
    /// <summary>float32 (f32), float16 (f16) or bfloat16 (bf16); the error names <paramref name="what"/> (e.g. the option).</summary>
    public static ScalarType Parse(string text, string what) => text switch
    {
        "float32" or "f32" => ScalarType.Float32,
        "float16" or "f16" => ScalarType.Float16,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        _ => throw new NextStepException($"{what} {text}: expected float32, float16 or bfloat16"),
    };

    public static string Of(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        _ => throw new NextStepException($"dtype {dtype}: expected float32, float16 or bfloat16"),
    };
}
