using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// Tensor arithmetic with Scalars that outlive the call. TorchSharp 0.107 builds a temporary <c>Scalar</c> inside
/// <c>a + b</c>, <c>a.add(b)</c>, <c>add_</c> (alpha = 1), <c>s - t</c>, <c>square()</c> (exponent 2) and <c>arange(start, stop)</c>
/// (step 1), and leaves it to its finalizer; when the garbage collector runs during the native call (another thread, or
/// the background collector, makes it run), libtorch reads freed memory: "Expected false to be true" from
/// Scalar::toFloat (seen with a second thread collecting without pause), or a wrong alpha or exponent. The NaN gradients
/// of decoder training had another cause, a oneDNN kernel (docs/DEFAULT_MODEL.md, step 27; <c>ConvLayer</c>).
/// These helpers pass Scalars held for the life of the process and compute the same values as the TorchSharp
/// methods they replace. <c>HeldScalarTests</c> names every call of a TorchSharp method that makes such a Scalar.
/// </summary>
internal static class Held
{
    /// <summary>Never disposed: static roots keep them from the finalizer for the life of the process.</summary>
    private static readonly Scalar One = 1, MinusOne = -1, Two = 2;

    /// <summary><paramref name="a"/> + <paramref name="b"/>, the same values as the operator.</summary>
    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="a"/> + <paramref name="s"/>, the same values as the operator.</summary>
    public static Tensor Add(Tensor a, Scalar s) => a.add(s, One);

    /// <summary><paramref name="a"/> += <paramref name="b"/> in place, as <c>add_(b)</c>.</summary>
    public static Tensor AddInPlace(Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><paramref name="a"/> += <paramref name="s"/> in place, as <c>add_(s)</c>.</summary>
    public static Tensor AddInPlace(Tensor a, Scalar s) => a.add_(s, One);

    /// <summary><paramref name="a"/> − <paramref name="b"/>, the same values as the operator.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => a.add(b, MinusOne);

    /// <summary><paramref name="s"/> − <paramref name="t"/>, as TorchSharp's operator computes it (−t + s).</summary>
    public static Tensor Sub(Scalar s, Tensor t)
    {
        using var negative = t.negative();
        return negative.add(s, One);
    }

    /// <summary><paramref name="x"/>², as <c>x.square()</c> computes it (<c>pow(2)</c>).</summary>
    public static Tensor Square(Tensor x) => x.pow(Two);

    /// <summary>[start, stop) in steps of 1, as <c>arange(start, stop, dtype, device)</c>.</summary>
    public static Tensor Arange(Scalar start, Scalar stop, ScalarType dtype, Device device) => arange(start, stop, One, dtype, device);
}
