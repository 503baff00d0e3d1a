using NextStep.Model;
using NextStep.Tests.Support;
using static TorchSharp.torch;

namespace NextStep.Tests.Model;

/// <summary>The tiny checkpoint loaded once per test run (float32, as the goldens were computed).</summary>
public static class TinyModel
{
    private static readonly Lazy<NextStepModel> Float32Rope = new(() => NextStepModel.Load(Fixtures.TinyModel, ScalarType.Float32, rope: RopeInvFreq.Float32));
    private static readonly Lazy<NextStepModel> Bf16Rope = new(() => NextStepModel.Load(Fixtures.TinyModel, ScalarType.Float32, rope: RopeInvFreq.Bf16Rounded));

    public static NextStepModel Get(RopeInvFreq rope) => rope == RopeInvFreq.Float32 ? Float32Rope.Value : Bf16Rope.Value;

    public static Tensor Golden(string key) => Fixtures.Tensor("tiny/golden/golden.safetensors", key);
}
