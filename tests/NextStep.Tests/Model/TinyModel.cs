using NextStep.Model;
using NextStep.Tests.Support;
using static TorchSharp.torch;

namespace NextStep.Tests.Model;

/// <summary>The tiny checkpoint loaded once per test run, in float32 (as the goldens were computed) and in bf16.</summary>
public static class TinyModel
{
    private static readonly Lazy<NextStepModel> F32 = new(() => NextStepModel.Load(Fixtures.TinyModel, ScalarType.Float32));
    private static readonly Lazy<NextStepModel> BF16 = new(() => NextStepModel.Load(Fixtures.TinyModel, ScalarType.BFloat16));

    public static NextStepModel Float32 => F32.Value;
    public static NextStepModel BFloat16 => BF16.Value;

    public static Tensor Golden(string key) => Fixtures.Tensor("tiny/golden/golden.safetensors", key);
}
