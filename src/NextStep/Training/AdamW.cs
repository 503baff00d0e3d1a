using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>
/// AdamW with decoupled weight decay, the same float32 tensor operations in the same order as PyTorch's single-tensor
/// <c>torch.optim.AdamW</c> (the CPU default): p ← p·(1 − lr·wd); m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²;
/// p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε). Official settings: β = (0.9, 0.95), ε = 1e-8.
/// </summary>
public sealed class AdamW : IDisposable
{
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public IReadOnlyList<ParameterGroup> Groups { get; }
    /// <summary>Number of updates taken (the bias-correction exponent of the last update).</summary>
    public long Step { get; private set; }

    private readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> _state = new();

    public AdamW(IReadOnlyList<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-8)
    {
        Groups = groups; Beta1 = beta1; Beta2 = beta2; Eps = eps;
        var duplicate = groups.SelectMany(g => g.Parameters).GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new NextStepException($"parameter \"{duplicate.Key}\" is listed twice in the optimizer groups");
    }

    /// <summary>One update of every parameter that has a gradient, at learning rate <paramref name="lr"/>.</summary>
    public void Update(double lr)
    {
        Step++;
        double bias1 = 1 - Math.Pow(Beta1, Step);
        double bias2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, Step));
        double stepSize = lr / bias1;
        using var scope = NewDisposeScope(); // in-place ops hand back new tensor handles
        using var _ = no_grad();
        // Every Scalar is held in a variable until its calls have returned. TorchSharp leaves an implicitly converted
        // Scalar to its finalizer, which can free it while libtorch still reads it when another thread makes the GC
        // run (seen in parallel tests: "Expected false to be true" from Scalar::toFloat inside add_).
        using TorchSharp.Scalar beta2 = Beta2, vWeight = 1 - Beta2, bias2 = bias2Sqrt, eps = Eps, step = -stepSize;
        Tensor? weight = null; // made on the first parameter's device; the dispose scope frees it
        foreach (var group in Groups)
        {
            using TorchSharp.Scalar keep = 1 - lr * group.WeightDecay;
            foreach (var p in group.Parameters)
            {
                using var grad = p.Value.grad;
                if (grad is null) continue;
                var (m, v) = State(p);
                p.Value.mul_(keep);
                weight ??= tensor(1 - Beta1, m.dtype, m.device); // lerp_ takes a tensor weight, on the parameter's device
                m.lerp_(grad, weight);
                v.mul_(beta2).addcmul_(grad, grad, vWeight);
                using var root = v.sqrt();
                using var denom = Held.AddInPlace(root.div_(bias2), eps);
                p.Value.addcdiv_(m, denom, step);
            }
        }
    }

    public void ZeroGrad()
    {
        using var scope = NewDisposeScope();
        foreach (var p in Groups.SelectMany(g => g.Parameters))
        {
            using var g = p.Value.grad;
            g?.zero_();
        }
    }

    private (Tensor, Tensor) State(NamedParameter p)
    {
        if (!_state.TryGetValue(p.Name, out var s))
            _state[p.Name] = s = (zeros_like(p.Value).DetachFromDisposeScope(), zeros_like(p.Value).DetachFromDisposeScope());
        return s;
    }

    /// <summary>Moments as named tensors (<c>exp_avg.NAME</c>, <c>exp_avg_sq.NAME</c>) plus <c>step</c>, for checkpoints.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        yield return new("step", tensor(new long[] { Step }));
        foreach (var (name, (m, v)) in _state)
        {
            yield return new("exp_avg." + name, m);
            yield return new("exp_avg_sq." + name, v);
        }
    }

    /// <summary>Restores what <see cref="StateTensors"/> wrote; every moment must match its parameter's shape.</summary>
    public void LoadState(Func<string, Tensor?> load, string source)
    {
        using var step = load("step") ?? throw new NextStepException($"{source}: optimizer state has no \"step\"");
        Step = step.item<long>();
        foreach (var p in Groups.SelectMany(g => g.Parameters))
        {
            var m = load("exp_avg." + p.Name);
            var v = load("exp_avg_sq." + p.Name);
            if (m is null || v is null)
            {
                if (Step > 0) throw new NextStepException($"{source}: optimizer state for \"{p.Name}\" is missing");
                continue;
            }
            foreach (var t in new[] { m, v })
                if (!t.shape.SequenceEqual(p.Value.shape) || t.dtype != p.Value.dtype)
                    throw new NextStepException($"{source}: optimizer state for \"{p.Name}\" has shape [{string.Join(",", t.shape)}] {t.dtype}, expected [{string.Join(",", p.Value.shape)}] {p.Value.dtype}");
            if (_state.Remove(p.Name, out var old)) { old.ExpAvg.Dispose(); old.ExpAvgSq.Dispose(); }
            _state[p.Name] = (m.DetachFromDisposeScope(), v.DetachFromDisposeScope());
        }
    }

    public void Dispose()
    {
        foreach (var (m, v) in _state.Values) { m.Dispose(); v.Dispose(); }
        _state.Clear();
    }
}
