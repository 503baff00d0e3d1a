using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Sampling;

/// <summary>
/// The samplers' time grids (t = 0 is noise, t = 1 is data), float32 and built with libtorch's own
/// <c>linspace</c> (it fills half from each end, which decides the last bits).
/// </summary>
public static class TimeGrid
{
    /// <summary>The grid shift <c>t / (s − (s − 1)·t)</c>, in the official evaluation order.</summary>
    public static Tensor Shift(Tensor t, double s)
    {
        // Held until the calls return: an implicitly converted Scalar is freed by its finalizer, possibly mid-call
        // (seen as "Unknown scalar type" after some hundred images with a shift other than 1).
        using TorchSharp.Scalar sMinusOne = s - 1, shift = s;
        using var scaled = t * sMinusOne;
        using var denominator = Held.Sub(shift, scaled);
        return t / denominator;
    }

    /// <summary>Aug-2025 GitHub grid: N points <c>linspace(0, 1 − last, N)</c> on the CPU, shifted.</summary>
    public static Tensor ToLastStep(int n, double shift, double lastStepSize) =>
        Shift(linspace(0, 1 - lastStepSize, n, ScalarType.Float32), shift);

    /// <summary>Hugging Face and Feb-2026 grid: <c>linspace(0, 1, N + 1)</c> without its last point, shifted, then 1.0 (N + 1 points).</summary>
    public static Tensor ToOne(int n, double shift, Device device)
    {
        var t = linspace(0, 1, n + 1, ScalarType.Float32, device).slice(0, 0, n, 1);
        return cat(new[] { Shift(t, shift), ones(1, ScalarType.Float32, device) }, 0);
    }
}
