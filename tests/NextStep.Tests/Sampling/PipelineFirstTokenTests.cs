using System.Text.Json;
using NextStep.Sampling;
using NextStep.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Sampling;

/// <summary>
/// The first image token of every pipeline golden: the recorded <c>pipe.&lt;case&gt;.step0_cond</c> and head draws
/// through the folder's sampler, the pipeline's step-0 guidance scales (its "linear" form at k = 0) and
/// <c>use_norm</c>, against <c>pipe.&lt;case&gt;.tokens[:, 0]</c>.
/// </summary>
public class PipelineFirstTokenTests
{
    public static IEnumerable<object[]> Cases() =>
        SamplerCases.Folders.SelectMany(f => Pipeline(f.Folder).Select(e => new object[] { f.Folder, e.GetProperty("name").GetString()! }));

    private static IEnumerable<JsonElement> Pipeline(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixtures.Path(folder, "cases.json")));
        return doc.RootElement.GetProperty("cases").GetProperty("pipeline").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FirstTokenMatches(string folder, string name)
    {
        var e = Pipeline(folder).Single(x => x.GetProperty("name").GetString() == name);
        double Num(string k, double d) => e.TryGetProperty(k, out var v) ? v.GetDouble() : d;
        string Str(string k, string d) => e.TryGetProperty(k, out var v) ? v.GetString()! : d;
        string sampler = SamplerCases.Folders.Single(f => f.Folder == folder).Sampler;
        var form = sampler == Samplers.V11 ? LinearCfgForm.Increasing : LinearCfgForm.Decreasing;
        var schedule = CfgSchedules.Parse(Str("cfg_schedule", "constant"));
        string golden = $"{folder}/golden.safetensors";
        using var tokens = Fixtures.Tensor(golden, $"pipe.{name}.tokens");
        int n = (int)tokens.shape[1];
        double cfg = Num("cfg", 1), cfgImg = Num("cfg_img", 1);
        var s = new SamplerSettings(
            CfgSchedules.At(schedule, form, cfg, 0, n), CfgSchedules.At(schedule, form, cfgImg, 0, n),
            (int)Num("steps", 20), Num("shift", 1), (int)Num("n_per_caption", 1), Str("sde_type", "sde"),
            CfgMult: Guidance.CfgMult(cfg, cfgImg));

        int draw = e.TryGetProperty("image", out _) ? 1 : 0;   // editing: the VAE posterior draw comes first
        NoiseSource inject = (shape, dtype, device) => Fixtures.Tensor(golden, $"pipe.{name}.noise{draw++}").to(dtype, device);
        using var cond = Fixtures.Tensor(golden, $"pipe.{name}.step0_cond");
        using var sampled = Samplers.Create(sampler).Sample(TinyHead.Net(ScalarType.Float32), cond, s, inject);
        using var token = e.TryGetProperty("use_norm", out var un) && un.GetBoolean() ? TokenNorm.Apply(sampled) : sampled.alias();
        TensorAssert.Close(tokens.select(1, 0), token, atol: 0, rtol: 2e-6, what: $"{folder}/{name} token 0");
    }
}
