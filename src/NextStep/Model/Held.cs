using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// Tensor sums and squares with a Scalar that outlives the call. TorchSharp 0.107's <c>a + b</c> (and <c>a.add(b)</c>, <c>x.square()</c>) passes
/// libtorch a temporary <c>Scalar</c> (alpha = 1, exponent 2) that only its finalizer frees; when another thread makes the GC run
/// during the native call, libtorch reads freed memory: "Expected false to be true" from Scalar::toFloat, or a
/// garbage alpha and with it wrong activations and NaN gradients (seen in VAE training, docs/DEFAULT_MODEL.md step 26).
/// </summary>
internal static class Held
{
    /// <summary>Never disposed: static roots keep them from the finalizer for the life of the process.</summary>
    private static readonly Scalar One = 1, Two = 2;

    /// <summary><paramref name="a"/> + <paramref name="b"/>, the same values as the operator.</summary>
    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="x"/>², as <c>x.square()</c> computes it (TorchSharp's <c>square()</c> is <c>pow(2)</c> with a temporary Scalar).</summary>
    public static Tensor Square(Tensor x) => x.pow(Two);
}
