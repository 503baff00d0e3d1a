using Xunit;

namespace NextStep.Tests.Support;

/// <summary>A fact that needs a CUDA device: skipped, with the reason, where this build sees none (TorchSharp-cpu, or no GPU).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!TorchSharp.torch.cuda.is_available()) Skip = "needs a CUDA device; this machine or build has none";
    }
}
