using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>
/// An exponential moving average of all of a module's parameters (the EMA weights diffusion and flow models are
/// usually sampled with): after each optimizer step avg ← d·avg + (1 − d)·p, with the effective decay
/// d = min(decay, (1 + n) / (10 + n)) at update n, so a freshly initialised model is not averaged with its random start.
/// </summary>
public sealed class WeightAverage : IDisposable
{
    private readonly List<(string Name, Tensor Parameter, Tensor Average)> _entries;
    private long _updates;

    public double Decay { get; }

    public WeightAverage(nn.Module module, double decay)
    {
        if (decay is <= 0 or >= 1) throw new NextStepException($"EMA decay {decay}: expected a value in (0, 1), e.g. 0.999");
        Decay = decay;
        using var _ = no_grad();
        _entries = module.named_parameters().Select(p => (p.name, (Tensor)p.parameter, p.parameter.detach().clone())).ToList();
    }

    /// <summary>The decay of the next update.</summary>
    public double NextDecay => Math.Min(Decay, (1.0 + _updates) / (10.0 + _updates));

    public void Update()
    {
        double d = NextDecay;
        using var _ = no_grad();
        using var scope = NewDisposeScope(); // in-place ops hand back new tensor handles
        // Held until the calls return: an implicitly converted Scalar is freed by its finalizer, possibly mid-call.
        using TorchSharp.Scalar keep = d, alpha = 1 - d;
        foreach (var (_, p, avg) in _entries) avg.mul_(keep).add_(p, alpha: alpha);
        _updates++;
    }

    /// <summary>The averaged weights of every parameter by name (owned by this object: do not dispose).</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Weights => _entries.Select(e => new KeyValuePair<string, Tensor>(e.Name, e.Average)).ToList();

    /// <summary>Copies the averaged weights into the module's parameters.</summary>
    public void CopyToModule()
    {
        using var _ = no_grad();
        foreach (var (_, p, avg) in _entries) p.copy_(avg);
    }

    public void Dispose() { foreach (var e in _entries) e.Average.Dispose(); }
}
