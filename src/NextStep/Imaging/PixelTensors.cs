using NextStep.Model;
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
        using Scalar levels = 255; // held until the call returns (see AdamW.Update)
        using var unit = f / levels;
        return FromUnit(unit);
    }

    /// <summary>float [0, 1] → float32 [−1, 1]: (x − 0.5)/0.5.</summary>
    public static Tensor FromUnit(Tensor unit)
    {
        using var f = unit.to_type(ScalarType.Float32);
        using Scalar half = 0.5; // held until the calls return (see AdamW.Update)
        using var centered = f - half;
        return centered / half;
    }

    /// <summary>
    /// VAE output (about [−1, 1], any float dtype) → uint8: float32 copy, clamp(x/2 + 0.5, 0, 1)·255, rounded half to even
    /// (<c>torch.round</c>), as the official <c>to_pil</c> does.
    /// </summary>
    public static Tensor ToUInt8(Tensor image)
    {
        using var f = image.to(ScalarType.Float32, CPU);
        using Scalar two = 2, middle = 0.5, low = 0.0, high = 1.0, levels = 255; // held until the calls return (see AdamW.Update)
        using var half = f / two;
        using var shifted = Held.Add(half, middle);
        using var clamped = shifted.clamp(low, high);
        using var scaled = clamped * levels;
        using var rounded = scaled.round();
        return rounded.to_type(ScalarType.Byte);
    }
}
