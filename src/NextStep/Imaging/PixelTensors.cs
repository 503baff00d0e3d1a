using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Imaging;

/// <summary>
/// Conversions between image pixels and the VAE's [−1, 1] range, as the official pipeline does them. Layout is kept
/// (CHW or NCHW in, the same out); only values and dtypes change. Results are new float32 / uint8 tensors.
/// </summary>
public static class PixelTensors
{
    /// <summary>uint8 [0, 255] → float32 [−1, 1]: x/255, then (x − 0.5)/0.5 (torchvision ToTensor + Normalize(0.5, 0.5)).</summary>
    public static Tensor FromUInt8(Tensor u8)
    {
        if (u8.dtype != ScalarType.Byte) throw new NextStepException($"image tensor has dtype {u8.dtype}, expected uint8");
        using var f = u8.to_type(ScalarType.Float32);
        using var unit = f / 255;
        return FromUnit(unit);
    }

    /// <summary>float [0, 1] → float32 [−1, 1]: (x − 0.5)/0.5.</summary>
    public static Tensor FromUnit(Tensor unit)
    {
        using var f = unit.to_type(ScalarType.Float32);
        using var centered = f - 0.5;
        return centered / 0.5;
    }

    /// <summary>
    /// VAE output (about [−1, 1], any float dtype) → uint8: float32 copy, clamp(x/2 + 0.5, 0, 1)·255, rounded half to even
    /// (<c>torch.round</c>), as the official <c>to_pil</c> does.
    /// </summary>
    public static Tensor ToUInt8(Tensor image)
    {
        using var f = image.to(ScalarType.Float32, CPU);
        using var half = f / 2;
        using var shifted = half + 0.5;
        using Scalar low = 0.0, high = 1.0; // held until the calls return (see AdamW.Update)
        using var clamped = shifted.clamp(low, high);
        using var scaled = clamped * 255;
        using var rounded = scaled.round();
        return rounded.to_type(ScalarType.Byte);
    }
}
