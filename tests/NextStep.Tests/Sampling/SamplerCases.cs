using System.Text.Json;
using NextStep.Sampling;
using NextStep.Tests.Support;
using static TorchSharp.torch;

namespace NextStep.Tests.Sampling;

/// <summary>One <c>fm.sample.&lt;name&gt;</c> case of a golden folder (its entry in that folder's cases.json).</summary>
public sealed record SamplerCase(string Folder, string Sampler, string Name, int Rows, double Cfg, double CfgImg, double Shift,
    int Steps, int NoiseRepeat, long Seed, string SdeType, string DType, int NoiseDraws, long[][]? NoiseShapes, string[]? NoiseDTypes)
{
    public string Golden => $"{Folder}/golden.safetensors";
    public string Key(string what) => $"fm.sample.{Name}.{what}";
    public Tensor Tensor(string what) => Fixtures.Tensor(Golden, Key(what));
    public ScalarType ModelType => DType == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
    public SamplerSettings Settings => new(Cfg, CfgImg, Steps, Shift, NoiseRepeat, SdeType);
    public override string ToString() => $"{Sampler}/{Name}";
}

public static class SamplerCases
{
    /// <summary>Golden folders and the sampler that made them (fixtures README).</summary>
    public static readonly (string Folder, string Sampler)[] Folders =
    {
        ("tiny/golden", Samplers.Github2025), ("variants/hf", Samplers.Hf), ("variants/v1.1", Samplers.V11),
    };

    public static IEnumerable<SamplerCase> All() => Folders.SelectMany(f => Load(f.Folder, f.Sampler));

    public static SamplerCase Get(string sampler, string name) => All().Single(c => c.Sampler == sampler && c.Name == name);

    /// <summary>xunit data: (sampler, case name) for every case, optionally of one sampler.</summary>
    public static IEnumerable<object[]> Data(string? sampler = null) =>
        All().Where(c => sampler == null || c.Sampler == sampler).Select(c => new object[] { c.Sampler, c.Name });

    private static IEnumerable<SamplerCase> Load(string folder, string sampler)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixtures.Path(folder, "cases.json")));
        foreach (var e in doc.RootElement.GetProperty("cases").GetProperty("fm_sample").EnumerateArray())
        {
            string? Str(string k) => e.TryGetProperty(k, out var v) ? v.GetString() : null;
            yield return new SamplerCase(folder, sampler, Str("name")!, e.GetProperty("rows").GetInt32(),
                e.GetProperty("cfg").GetDouble(), e.GetProperty("cfg2").GetDouble(), e.GetProperty("shift").GetDouble(),
                e.GetProperty("steps").GetInt32(), e.GetProperty("noise_repeat").GetInt32(), e.GetProperty("seed").GetInt64(),
                Str("sde_type") ?? "sde", Str("dtype") ?? "float32", e.GetProperty("noise_draws").GetInt32(),
                e.TryGetProperty("noise_shapes", out var sh) ? sh.EnumerateArray().Select(a => a.EnumerateArray().Select(x => x.GetInt64()).ToArray()).ToArray() : null,
                e.TryGetProperty("noise_dtypes", out var dt) ? dt.EnumerateArray().Select(x => x.GetString()!).ToArray() : null);
        }
    }
}
