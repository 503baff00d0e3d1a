using NextStep.Sampling;
using NextStep.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Sampling;

/// <summary>Number, shapes and dtypes of the draws, against cases.json and the recorded draws (a zero network suffices).</summary>
public class NoiseDrawTests
{
    public static IEnumerable<object[]> Cases() => SamplerCases.Data();

    [Theory]
    [MemberData(nameof(Cases))]
    public void DrawsHaveTheRecordedCountShapesAndDtypes(string sampler, string name)
    {
        var c = SamplerCases.Get(sampler, name);
        var s = Samplers.Create(sampler);
        var draws = new List<(long[] Shape, ScalarType DType)>();
        NoiseSource record = (shape, dtype, device) => { draws.Add((shape, dtype)); return zeros(shape, dtype, device); };
        using var cond = c.Tensor("c").to(c.ModelType);
        using var tokens = s.Sample((x, t, cc) => zeros_like(x), cond, c.Settings, record);

        Assert.Equal(c.NoiseDraws, draws.Count);
        Assert.Equal(c.NoiseDraws, s.NoiseDraws(c.Settings));
        Assert.Equal(new long[] { c.Rows, 64 }, tokens.shape);
        Assert.Equal(c.ModelType, tokens.dtype);
        for (int i = 0; i < draws.Count; i++)
        {
            Assert.Equal(c.Tensor($"noise{i}").shape, draws[i].Shape);
            if (c.NoiseShapes != null) Assert.Equal(c.NoiseShapes[i], draws[i].Shape);
            var dtype = c.NoiseDTypes == null ? "float32" : c.NoiseDTypes[Math.Min(i, c.NoiseDTypes.Length - 1)];
            Assert.Equal(dtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32, draws[i].DType);
        }
    }
}
