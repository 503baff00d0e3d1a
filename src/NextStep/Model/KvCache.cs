using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// A pre-sized key/value cache for incremental decoding: per layer one K and one V tensor
/// [batch, kvHeads, capacity, headDim], allocated once. Every forward writes its T new positions into slots
/// [Length, Length + T) and then advances <see cref="Length"/>; attention reads slots [0, Length). The per-row
/// pad mask of every written slot is kept, so left-padded prompt slots stay masked for all later tokens.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private readonly Tensor _valid;

    public int Batch { get; }
    public int Capacity { get; }
    /// <summary>Number of slots written so far (= the position of the next token).</summary>
    public int Length { get; private set; }

    public KvCache(int layers, int batch, int kvHeads, int headDim, int capacity, ScalarType dtype, Device device)
    {
        if (batch <= 0 || capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), $"batch ({batch}) and capacity ({capacity}) must be positive");
        Batch = batch; Capacity = capacity;
        _keys = Enumerable.Range(0, layers).Select(_ => zeros([batch, kvHeads, capacity, headDim], dtype, device)).ToArray();
        _values = Enumerable.Range(0, layers).Select(_ => zeros([batch, kvHeads, capacity, headDim], dtype, device)).ToArray();
        _valid = zeros([batch, capacity], ScalarType.Bool, device);
    }

    /// <summary>Records which of the next T slots hold real tokens (<paramref name="padMask"/> [B, T], nonzero = real).</summary>
    internal Tensor BeginStep(Tensor padMask)
    {
        long t = padMask.shape[1];
        if (padMask.shape[0] != Batch) throw new ArgumentException($"the cache holds {Batch} rows, the input has {padMask.shape[0]}");
        if (Length + t > Capacity) throw new NextStepException($"KV cache overflow: {Length} slots used + {t} new > capacity {Capacity}");
        using var slots = _valid.narrow(1, Length, t);
        using var real = padMask.to(ScalarType.Bool, _valid.device);
        slots.copy_(real);
        return _valid.narrow(1, 0, Length + t);
    }

    /// <summary>Writes this step's keys and values [B, kvHeads, T, d] for one layer; returns views over all written slots.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        using (var ks = _keys[layer].narrow(2, Length, t)) ks.copy_(k);
        using (var vs = _values[layer].narrow(2, Length, t)) vs.copy_(v);
        return (_keys[layer].narrow(2, 0, Length + t), _values[layer].narrow(2, 0, Length + t));
    }

    internal void EndStep(int t) => Length += t;

    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
        _valid.Dispose();
    }
}
