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

    /// <summary>Loads a model folder derived from the tiny checkpoint in float32 and checks its uncached prefill against the reference hidden states (the backbone tests' tolerance).</summary>
    public static void AssertPrefillMatchesReference(string modelFolder, string what)
    {
        using var _ = no_grad();
        using var model = NextStepModel.Load(modelFolder);
        using var ids = Golden("backbone.input_ids");
        using var mask = Golden("backbone.attention_mask");
        using var h = model.Forward(model.Embed(ids), mask, null);
        using var real = mask.to_type(ScalarType.Bool);
        TensorAssert.Close(Golden("backbone.prefill_hidden").index(real), h.index(real), atol: 2e-5, what: what);
    }
}
