using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>
/// Global-norm gradient clipping as DeepSpeed's ZeRO-1/2 optimizer does it: per parameter group, the float64 L2 norms
/// of the gradients are squared and summed, the sum is rounded to float32 and square-rooted; the global norm is the L2
/// norm of the group norms. Every gradient is then multiplied by 1 / max(1, (norm + 1e-6) / maxNorm).
/// </summary>
public static class GradientClipping
{
    public sealed record Result(double GlobalNorm, double ClipCoefficient);

    public static double GlobalNorm(IReadOnlyList<ParameterGroup> groups) =>
        GlobalNorm(groups.Select(g => ParameterNorms(g.Parameters.Select(p => p.Value))));

    /// <summary>
    /// The float64 L2 norms of the gradients of the parameters that have one, read back in one transfer, so that a GPU
    /// run waits once per group instead of once per parameter.
    /// </summary>
    public static double[] ParameterNorms(IEnumerable<Tensor> parameters)
    {
        using var scope = NewDisposeScope();
        var norms = parameters.Select(p => p.grad).OfType<Tensor>().Select(g => g.to_type(ScalarType.Float64).norm()).ToArray();
        return norms.Length == 0 ? [] : stack(norms).cpu().data<double>().ToArray();
    }

    /// <summary>The global norm from each group's float64 per-parameter gradient norms.</summary>
    public static double GlobalNorm(IEnumerable<IEnumerable<double>> parameterNormsPerGroup)
    {
        double total = 0;
        foreach (var norms in parameterNormsPerGroup)
        {
            double groupNorm = Math.Sqrt((float)norms.Sum(n => n * n));
            total += groupNorm * groupNorm;
        }
        return Math.Sqrt(total);
    }

    /// <summary>The float64 L2 norm of a parameter's gradient (0 without one).</summary>
    public static double ParameterNorm(Tensor parameter) => ParameterNorms([parameter]) is [var norm] ? norm : 0;

    /// <summary>1 / max(1, (norm + 1e-6) / maxNorm), in float32 arithmetic as DeepSpeed's tensor computes it.</summary>
    public static double Coefficient(double globalNorm, double maxNorm)
    {
        float clip = ((float)globalNorm + 1e-6f) / (float)maxNorm;
        return 1.0f / Math.Max(1.0f, clip);
    }

    /// <summary>Measures the global norm and scales every gradient in place by the clip coefficient.</summary>
    public static Result Clip(IReadOnlyList<ParameterGroup> groups, double maxNorm)
    {
        double norm = GlobalNorm(groups);
        if (!double.IsFinite(norm))
            throw new NextStepException($"gradient norm is {norm} (NaN or infinite gradients); the step cannot be taken");
        double coef = Coefficient(norm, maxNorm);
        using var scope = NewDisposeScope(); // in-place ops hand back new tensor handles
        using TorchSharp.Scalar scale = coef; // held until the calls return (see AdamW.Update)
        using (no_grad())
            foreach (var p in groups.SelectMany(g => g.Parameters))
            {
                using var g = p.Value.grad;
                g?.mul_(scale);
            }
        return new Result(norm, coef);
    }
}
