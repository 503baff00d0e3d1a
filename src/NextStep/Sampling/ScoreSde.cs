using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Sampling;

/// <summary>
/// The SiT-style SDE shared by the Aug-2025 GitHub and the Hugging Face samplers: Euler–Maruyama on
/// <c>dx = [v + (1 − t)·score] dt + sqrt(2(1 − t)) dW</c>, with x and the noise in float32 and the noise drawn as
/// [noise_repeat, D] and tiled over the B rows (row j gets draw row j mod r).
/// </summary>
internal static class ScoreSde
{
    public static Tensor TiledNoise(NoiseSource noise, SamplerSettings s, long rows, Device device) =>
        noise(new long[] { s.NoiseRepeat, s.TokenDim }, ScalarType.Float32, device).repeat(rows / s.NoiseRepeat, 1);

    /// <summary>
    /// One step from ti by dt (0-dim float32) with noise w. The score keeps the code's form
    /// <c>(t·v − x) / ((1 − t)² + t(1 − t))</c> (= −ε/(1 − t)) so that results match bit for bit.
    /// </summary>
    public static Tensor Step(Tensor x, Tensor v, Tensor ti, Tensor dt, Tensor w)
    {
        // Held until the calls return: an implicitly converted Scalar is freed by its finalizer, possibly mid-call.
        using TorchSharp.Scalar one = 1, two = 2;
        var t = ti.to(x.dtype, x.device).view(1, 1);
        var sigma = Held.Sub(one, t);
        var variance = Held.Add(Held.Square(sigma), t * sigma);
        var score = (t * v - x) / variance;
        var drift = Held.Add(v, sigma * score);
        var mean = Held.Add(x, drift * dt);
        return Held.Add(mean, (two * sigma).sqrt() * (w * dt.sqrt()));
    }
}
