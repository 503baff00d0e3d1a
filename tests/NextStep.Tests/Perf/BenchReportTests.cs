using System.Text.Json;
using NextStep.Benchmarks;
using NextStep.Cli;
using Xunit;

namespace NextStep.Tests.Perf;

/// <summary>The bench on the tiny shape (one run of each suite but the VAE's, a 16-px image): the JSON report's schema.</summary>
public class BenchReportTests
{
    [Fact]
    public void TinyShapeWritesTheJsonReport()
    {
        string json = Path.Combine(Path.GetTempPath(), $"nextstep-bench-{Guid.NewGuid():N}.json");
        try
        {
            var stdout = new StringWriter();
            int rc = CliApp.Run(["bench", "--shape", "tiny", "--suite", "load,prefill,decode,head,image", "--threads", "1",
                "--runs", "1", "--warmup", "0", "--tokens", "2", "--image-size", "16", "--json", json], stdout, stdout);
            Assert.True(rc == 0, stdout.ToString());
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var root = doc.RootElement;
            Assert.Equal("tiny", root.GetProperty("shape").GetString());
            Assert.Equal(1, root.GetProperty("threads").GetInt32());
            Assert.True(root.GetProperty("parameter_bytes").GetInt64() > 0);
            var names = root.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
            Assert.Equal(["prefill_b2_t96", "decode_b2", "decode_b8", "head_sample_28", "head_sample_50", "image_16"], names);
            foreach (var e in root.GetProperty("entries").EnumerateArray())
            {
                var t = e.GetProperty("timing");
                Assert.True(t.GetProperty("ms").GetDouble() > 0, e.GetProperty("name").GetString());
                Assert.True(t.GetProperty("tensors_per_run").GetInt64() > 0);
                Assert.True(e.GetProperty("peak_rss_bytes").GetInt64() > 0);
            }
            var image = root.GetProperty("entries")[5].GetProperty("metrics");
            foreach (var key in new[] { "prefill_ms", "ms_per_token", "head_ms_per_token", "vae_ms", "images_per_min", "tokens_per_s", "tensors_created_per_token" })
                Assert.True(image.GetProperty(key).GetDouble() > 0, key);
            Assert.Equal(1, image.GetProperty("tokens_per_image").GetDouble());
            var loads = root.GetProperty("loads").EnumerateArray().ToList();
            Assert.Equal(["float32", "bfloat16"], loads.Select(l => l.GetProperty("file_type").GetString()));
        }
        finally { File.Delete(json); }
    }

    [Fact]
    public void CudaWithoutAGpuIsAClearError()
    {
        if (TorchSharp.torch.cuda.is_available()) return;
        var stderr = new StringWriter();
        int rc = CliApp.Run(["bench", "--shape", "tiny", "--device", "cuda"], new StringWriter(), stderr);
        Assert.Equal(1, rc);
        Assert.Contains("CUDA is not available", stderr.ToString());
    }

    [Fact]
    public void ModelFolderBenchUsesItsSamplingProfileAndRefusesBadSteps()
    {
        string folder = global::NextStep.Pipeline.DefaultModel.Path;
        var profile = global::NextStep.Sampling.SamplingProfile.FromFile(folder)!;
        var output = new StringWriter();
        int rc = CliApp.Run(["bench", "--model", folder, "--suite", "head,pipeline", "--threads", "1", "--runs", "1", "--warmup", "0",
            "--image-size", "32", "--candidates", "2"], output, new StringWriter());
        Assert.True(rc == 0, output.ToString());
        Assert.Contains($"{profile.NumSamplingSteps} steps, cfg {profile.Cfg}, best of 2", output.ToString());
        Assert.Matches(@"pipeline_32 +[0-9.]+ ms.*candidates=2", output.ToString());
        var stderr = new StringWriter();
        Assert.Equal(1, CliApp.Run(["bench", "--model", folder, "--steps", "0"], new StringWriter(), stderr));
        Assert.Contains("--steps must be positive, found 0", stderr.ToString());
    }
}
