using static TorchSharp.torch;

namespace NextStep.Sampling;

/// <summary>
/// <c>use_norm</c>: each sampled token is layer-normalised over its D features (no affine, eps 1e-6) in its own
/// dtype (libtorch keeps float32 statistics for bf16). The normalised token is both fed back and decoded.
/// </summary>
public static class TokenNorm
{
    public const double Eps = 1e-6;

    /// <summary>tokens [..., D] → LayerNorm over the last dimension.</summary>
    public static Tensor Apply(Tensor tokens) =>
        nn.functional.layer_norm(tokens, new[] { tokens.shape[^1] }, null, null, Eps);
}
