using NextStep.Loading;
using NextStep.Tests.Support;
using NextStep.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

public class OptimizerTests
{
    [Fact]
    public void GroupsFollowTheOfficialDecayRule()
    {
        var names = TrainingGoldens.ParamNames;
        using var scope = NewDisposeScope();
        var parameters = names.Select(n => new NamedParameter(n, new TorchSharp.Modules.Parameter(zeros(1)))).ToList();
        var groups = ParameterGroups.Split(parameters, n => n.Contains(".in_ln."), 0.1);
        var expected = TrainingGoldens.OptimizerGroups;
        Assert.Equal(expected.Count, groups.Count);
        for (int i = 0; i < groups.Count; i++)
        {
            Assert.Equal(expected[i].Decay, groups[i].WeightDecay);
            Assert.Equal(expected[i].Names, groups[i].Parameters.Select(p => p.Name));
        }
    }

    [Fact]
    public void GlobalNormAndClipCoefficientMatchDeepSpeed()
    {
        foreach (var step in new[] { "step1", "step2" })
        {
            using var norms = TrainingGoldens.Tensor($"opt.{step}.grad_norms");
            var byName = TrainingGoldens.ParamNames.Zip(norms.data<float>().ToArray()).ToDictionary(p => p.First, p => (double)p.Second);
            double global = GradientClipping.GlobalNorm(TrainingGoldens.OptimizerGroups.Select(g => g.Names.Select(n => byName[n])));
            float expectedNorm = TrainingGoldens.Scalar($"opt.{step}.global_grad_norm");
            // per-parameter norms are stored rounded to float32: relative error ≤ ~1e-7
            Assert.InRange(Math.Abs(global - expectedNorm) / expectedNorm, 0, 1e-6);
            double coef = GradientClipping.Coefficient(expectedNorm, 1.0);
            Assert.Equal(TrainingGoldens.Scalar($"opt.{step}.clip_coef"), (float)coef);
        }
        Assert.Equal(1.0, GradientClipping.Coefficient(0.5, 1.0));
    }

    [Fact]
    public void FirstAdamWStepOnRecordedGradientsMatchesTorch()
    {
        // Step 1 ran on batch t2i at the checkpoint weights: its gradients are t2i.grad.* (same draws, seed 1001).
        using var scope = NewDisposeScope();
        using var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        var named = TrainingGoldens.NamedParams;
        var parameters = named.Select(n => new NamedParameter(n, new TorchSharp.Modules.Parameter(ck.Load(n, ScalarType.Float32)))).ToList();
        foreach (var p in parameters)
        {
            using var g = TrainingGoldens.Tensor($"t2i.grad.{p.Name}");
            p.Value.grad = g.clone();
        }
        var groups = ParameterGroups.Split(parameters, n => n.Contains(".in_ln."), 0.1);
        float coef = TrainingGoldens.Scalar("opt.step1.clip_coef");
        foreach (var p in parameters) { using var g = p.Value.grad; g!.mul_(coef); }
        using var adam = new AdamW(groups);
        adam.Update(1e-4);
        foreach (var p in parameters)
        {
            using var expected = TrainingGoldens.Tensor($"opt.step1.param.{p.Name}");
            // ≈ lr·sign(g) per element: 2 ulp of the parameter plus 1e-5 of the 1e-4 update
            TensorAssert.Close(expected, p.Value, atol: 1e-9, rtol: 3e-7, what: p.Name);
        }
    }

    [Fact]
    public void ScheduleMatchesTheTwelveRecordedValues()
    {
        var s = TrainingGoldens.Cases.GetProperty("lr_schedule");
        int warmup = s.GetProperty("warmup_steps").GetInt32(), total = s.GetProperty("max_steps").GetInt32();
        var tables = s.GetProperty("lambda_at_step").EnumerateObject().ToList();
        foreach (var (table, scale) in new[] { (tables[0].Value, 1.0), (tables[1].Value, 0.0) })
        {
            var schedule = LrSchedule.Create(LrSchedule.Cosine, warmup, total, scale);
            int n = 0;
            foreach (var kv in table.EnumerateObject())
            {
                double expected = kv.Value.GetDouble(), actual = schedule.Lambda(long.Parse(kv.Name));
                Assert.True(Math.Abs(expected - actual) <= 1e-15 + 1e-12 * Math.Abs(expected), $"scale {scale} step {kv.Name}: {actual} vs {expected}");
                n++;
            }
            Assert.Equal(12, n);
        }
        var constant = LrSchedule.Create(LrSchedule.Constant, 10, 0);
        Assert.Equal(0.5, constant.Lambda(5));
        Assert.Equal(1.0, constant.Lambda(1_000_000));
        Assert.Throws<NextStepException>(() => LrSchedule.Create("linear", 1, 2));
    }
}
