using System.Reflection;
using System.Reflection.Emit;
using Microsoft.CodeAnalysis;
using TorchSharp;

namespace NextStep.Tests.Reliability;

/// <summary>
/// The TorchSharp methods that hand libtorch a Scalar they made themselves and never dispose (<c>add(Tensor)</c> passes
/// alpha = 1, <c>square()</c> the exponent 2), found by reading TorchSharp's IL: a method that creates a Scalar
/// (a conversion, <c>ToScalar()</c> or its constructor) and calls no <c>Scalar.Dispose</c>, and every TorchSharp method
/// that calls one of those. Methods that return the Scalar they make (conversions, <c>ToScalar</c>) are left out:
/// their caller holds it.
/// </summary>
internal static class TorchSharpScalars
{
    // Before Unsafe: static fields are initialised in order.
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(op => op.Value);

    public static readonly HashSet<string> Unsafe = Scan(typeof(Scalar).Assembly);

    /// <summary>"TorchSharp.torch+Tensor.add(Tensor)": declaring type with '+' for nesting, name, parameter type names.</summary>
    public static string Key(MethodBase m) =>
        $"{TypeKey(m.DeclaringType!)}.{m.Name}({string.Join(",", m.GetParameters().Select(p => p.ParameterType.Name))})";

    public static string Key(IMethodSymbol m) =>
        $"{TypeKey(m.ContainingType)}.{m.MetadataName}({string.Join(",", m.Parameters.Select(p => TypeName(p.Type) + (p.RefKind == RefKind.None ? "" : "&")))})";

    private static string TypeKey(Type t) => t.DeclaringType is { } outer ? $"{TypeKey(outer)}+{t.Name}" : $"{t.Namespace}.{t.Name}";

    private static string TypeKey(INamedTypeSymbol t) =>
        t.ContainingType is { } outer ? $"{TypeKey(outer)}+{t.MetadataName}" : $"{t.ContainingNamespace.ToDisplayString()}.{t.MetadataName}";

    private static string TypeName(ITypeSymbol t) => t switch
    {
        IArrayTypeSymbol a => TypeName(a.ElementType) + "[]",
        IPointerTypeSymbol p => TypeName(p.PointedAtType) + "*",
        _ => t.MetadataName,
    };

    private static HashSet<string> Scan(Assembly assembly)
    {
        const BindingFlags declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var types = assembly.GetTypes();
        var calls = new Dictionary<MethodBase, List<MethodBase>>();
        var makers = new HashSet<MethodBase>();
        foreach (var method in types.SelectMany(t => t.GetMethods(declared).Cast<MethodBase>().Concat(t.GetConstructors(declared))))
        {
            var callees = Callees(method).ToList();
            calls[method] = callees;
            var creates = callees.Any(c => c is ConstructorInfo ? c.DeclaringType == typeof(Scalar) : c is MethodInfo { ReturnType: var r } && r == typeof(Scalar) && c.Name is "op_Implicit" or "ToScalar");
            var disposes = callees.Any(c => c.DeclaringType == typeof(Scalar) && c.Name == "Dispose");
            var returnsIt = method is MethodInfo { ReturnType: var own } && own == typeof(Scalar);
            if (creates && !disposes && !returnsIt) makers.Add(method);
        }
        var found = new HashSet<MethodBase>(makers);
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (method, callees) in calls)
                if (!found.Contains(method) && callees.Any(found.Contains)) grew = found.Add(method) || grew;
        }
        return found.Select(Key).ToHashSet();
    }

    /// <summary>The methods and constructors <paramref name="method"/>'s IL calls (call, callvirt, newobj, ldftn).</summary>
    private static IEnumerable<MethodBase> Callees(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException) { yield break; }
        if (il is null) yield break;
        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var i = 0; i < il.Length;)
        {
            short value = il[i++];
            if (value == 0xFE) value = (short)(0xFE00 | il[i++]);
            if (!OpCodesByValue.TryGetValue(value, out var op)) yield break;
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? callee = null;
                try { callee = method.Module.ResolveMethod(BitConverter.ToInt32(il, i), typeArgs, methodArgs); }
                catch (Exception e) when (e is ArgumentException or TypeLoadException or MissingMemberException or IOException) { }
                if (callee is not null) yield return callee;
            }
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
        }
    }
}
