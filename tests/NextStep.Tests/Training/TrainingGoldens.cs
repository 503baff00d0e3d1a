using System.Text.Json;
using NextStep.Tests.Support;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

/// <summary>Access to <c>training/golden.safetensors</c> and <c>training/cases.json</c>.</summary>
public static class TrainingGoldens
{
    private static readonly Lazy<JsonElement> CasesLazy = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(Fixtures.Path("training", "cases.json"))).RootElement);

    public static JsonElement Cases => CasesLazy.Value;
    public static Tensor Tensor(string key) => Fixtures.Tensor("training/golden.safetensors", key);
    public static float Scalar(string key) { using var t = Tensor(key); return t.item<float>(); }
    public static IReadOnlyList<string> ParamNames => Cases.GetProperty("param_names").EnumerateArray().Select(e => e.GetString()!).ToList();
    public static IReadOnlyList<string> NamedParams => Cases.GetProperty("named_params").EnumerateArray().Select(e => e.GetString()!).ToList();
    public static JsonElement Case(string name) => Cases.GetProperty("cases").EnumerateArray().First(c => c.GetProperty("name").GetString() == name);

    /// <summary>The official optimizer groups: (weight decay, parameter names).</summary>
    public static IReadOnlyList<(double Decay, IReadOnlyList<string> Names)> OptimizerGroups =>
        Cases.GetProperty("optimizer").GetProperty("groups").EnumerateArray()
            .Select(g => (g.GetProperty("weight_decay").GetDouble(), (IReadOnlyList<string>)g.GetProperty("params").EnumerateArray().Select(e => e.GetString()!).ToList()))
            .ToList();
}
