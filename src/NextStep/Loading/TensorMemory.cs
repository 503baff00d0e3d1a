using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace NextStep.Loading;

/// <summary>Raw access to a CPU tensor's storage (TorchSharp's <c>bytes</c> span is limited to 2 GB).</summary>
internal static class TensorMemory
{
    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>Address of the first element of a contiguous CPU tensor.</summary>
    public static IntPtr DataPtr(this Tensor t)
    {
        if (t.device_type != TorchSharp.DeviceType.CPU) throw new InvalidOperationException("DataPtr needs a CPU tensor");
        if (!t.is_contiguous()) throw new InvalidOperationException("DataPtr needs a contiguous tensor");
        return THSTensor_data(t.Handle);
    }
}
