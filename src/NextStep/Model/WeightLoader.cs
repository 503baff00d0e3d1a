using NextStep.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// Strict 1:1 loading of a module's parameters and persistent buffers from a checkpoint by name. Checkpoint
/// names are normalised first (a leading <c>model.</c> and every <c>_orig_mod.</c> segment removed). Everything
/// is checked before anything is copied: a missing tensor, an unexpected one (other than the names in
/// <c>ignored</c>) or a shape mismatch is a <see cref="NextStepException"/> naming it. Tensors are read one at a
/// time straight into the parameters (cast through a bounded staging buffer when the dtypes differ), so loading needs
/// little memory beyond the model itself; an int8 layer reads its float weight once and quantizes it.
/// </summary>
public static class WeightLoader
{
    public static string Normalize(string name)
    {
        var n = name.Replace("_orig_mod.", "", StringComparison.Ordinal);
        return n.StartsWith("model.", StringComparison.Ordinal) ? n["model.".Length..] : n;
    }

    /// <summary>Canonical name → the checkpoint's own name.</summary>
    public static Dictionary<string, string> CanonicalNames(SafeTensorsCheckpoint ck)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in ck.Names)
            if (!map.TryAdd(Normalize(name), name))
                throw new NextStepException($"{ck.Folder}: tensors \"{map[Normalize(name)]}\" and \"{name}\" both map to \"{Normalize(name)}\"");
        return map;
    }

    public static void Load(nn.Module module, SafeTensorsCheckpoint ck, IReadOnlySet<string>? ignored = null)
    {
        var names = CanonicalNames(ck);
        var targets = module.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(module.named_buffers(include_nonpersistent: false)).ToList();
        var problems = new List<string>();
        foreach (var (name, target) in targets)
        {
            if (!names.TryGetValue(name, out var source)) { problems.Add($"missing tensor \"{name}\" (expected shape {Shape(target.shape)})"); continue; }
            var info = ck.Info(source);
            if (!info.Shape.SequenceEqual(target.shape))
                problems.Add($"tensor \"{source}\" has shape {Shape(info.Shape)}, the model expects {Shape(target.shape)}");
            else if (SafeTensorsFile.ScalarTypeOf(info.DType) is ScalarType.Bool or ScalarType.Byte or ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64)
                problems.Add($"tensor \"{source}\" has dtype {info.DType}, expected a floating-point type");
        }
        var expected = targets.Select(t => t.name).ToHashSet(StringComparer.Ordinal);
        foreach (var (canonical, source) in names)
            if (!expected.Contains(canonical) && !(ignored?.Contains(canonical) ?? false))
                problems.Add($"unexpected tensor \"{source}\" {Shape(ck.Info(source).Shape)} (the model has no such weight)");
        if (problems.Count > 0)
            throw new NextStepException($"{ck.Folder}: the checkpoint does not match the model config: {string.Join("; ", problems.Take(10))}"
                + (problems.Count > 10 ? $"; and {problems.Count - 10} more" : ""));

        var int8 = module.named_modules().Where(m => m.module is IInt8Weight { IsInt8: true })
            .ToDictionary(m => m.name + ".weight", m => (IInt8Weight)m.module, StringComparer.Ordinal);
        using var _ = no_grad();
        foreach (var (name, target) in targets)
        {
            if (int8.TryGetValue(name, out var quantized))
            {
                using var t = ck.Load(names[name], ScalarType.Float32);
                quantized.LoadWeight(t);
            }
            else ck.ReadInto(names[name], target);
        }
    }

    private static string Shape(long[] s) => "[" + string.Join(", ", s) + "]";
}
