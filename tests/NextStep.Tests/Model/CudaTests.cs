using NextStep.Model;
using NextStep.Tests.Cli;
using NextStep.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Model;

/// <summary>The model and the default-model trainer on a CUDA device (skipped without one).</summary>
public class CudaTests
{
    /// <summary>
    /// The tiny checkpoint's prefill on the GPU against the reference hidden states. CUDA attention kernels may hand
    /// back strided outputs that the CPU never does, so this is what catches a view that needs a contiguous tensor.
    /// Float32 matmuls on CUDA are not TF32 by default; 1e-4 leaves room for other summation orders.
    /// </summary>
    [CudaFact]
    public void Float32PrefillOnCudaMatchesGoldens()
    {
        using var _ = no_grad();
        using var model = NextStepModel.Load(Fixtures.TinyModel, ScalarType.Float32, CUDA);
        using var ids = TinyModel.Golden("backbone.input_ids");
        using var mask = TinyModel.Golden("backbone.attention_mask");
        using var h = model.Forward(model.Embed(ids), mask, null).cpu();
        using var real = mask.to_type(ScalarType.Bool);
        TensorAssert.Close(TinyModel.Golden("backbone.prefill_hidden").index(real), h.index(real), atol: 1e-4, what: "CUDA prefill hidden");
    }

    /// <summary>A few train-default steps on the GPU from the default model: encoding, the objective, clipping, AdamW and EMA all run there, and the result is written.</summary>
    [CudaFact]
    public void TrainDefaultTrainsOnCuda()
    {
        string dir = Path.Combine(Path.GetTempPath(), "nextstep-cuda-" + Guid.NewGuid().ToString("N"));
        try
        {
            string model = global::NextStep.Pipeline.DefaultModel.Path;
            var (code, stdout, stderr) = CliRunner.Run("train-default", "--vae", Path.Combine(model, "vae"), "--tokenizer", model, "--init", model,
                "--out", dir, "--images", "64", "--steps", "3", "--batch", "16", "--ema", "0.999", "--device", "cuda", "--log-every", "1");
            Assert.True(code == 0, stderr);
            Assert.Contains("trained 3 steps", stdout);
            Assert.True(File.Exists(Path.Combine(dir, "model.safetensors")));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
