using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>
/// TorchSharp 0.107 leaves a temporary <c>Scalar</c> (made by <c>tensor * 0.5</c> or by passing <c>0.5</c> where a
/// Scalar is expected) to its finalizer, and the finalizer can free it while libtorch is still reading it when another
/// thread triggers a garbage collection ("Expected false to be true" from Scalar::toFloat, seen in parallel test runs).
/// TorchSharp's own methods do the same inside (<c>a + b</c>, <c>square()</c>, <c>optim.Adam</c>: see <see cref="TorchSharpScalars"/>).
/// The code base therefore holds every Scalar in a variable or field until its calls return, and calls those methods
/// only through <c>NextStep.Model.Held</c>. This test compiles the library and the CLI from source with Roslyn and names
/// every place that hands libtorch a temporary Scalar, its own or one TorchSharp makes.
/// </summary>
public class HeldScalarTests
{
    private static readonly string[] ImplicitUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    [Fact]
    public void NoTemporaryScalarReachesLibtorch()
    {
        var src = SourceRoot();
        // The CLI is analysed against the built library and server, the library against everything but itself.
        var library = Compile("NextStep", Path.Combine(src, "NextStep"), References("NextStep.dll"), OutputKind.DynamicallyLinkedLibrary);
        var cli = Compile("NextStep.Cli", Path.Combine(src, "NextStep.Cli"), References(), OutputKind.ConsoleApplication);

        var found = new List<string>();
        foreach (var compilation in new[] { library, cli })
        {
            // CS8795: the [GeneratedRegex] parts come from a source generator this compilation does not run.
            var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS8795").Take(5).ToList();
            Assert.True(errors.Count == 0, $"{compilation.AssemblyName} did not compile for the analysis: {string.Join("; ", errors)}");
            foreach (var tree in compilation.SyntaxTrees)
                found.AddRange(TemporaryScalars(compilation.GetSemanticModel(tree), tree, src));
        }
        Assert.True(found.Count == 0, "temporary Scalars handed to libtorch (hold them with `using Scalar x = …;`, or use Held's arithmetic):\n" + string.Join("\n", found));
    }

    [Fact]
    public void TheCheckFindsATemporaryScalar()
    {
        const string code = """
            using TorchSharp;
            using static TorchSharp.torch;
            static class Probe
            {
                static Tensor Bad(Tensor x, double s) => (x * 0.5).add(s).clamp(0.0, 1.0);
                static Tensor Good(Tensor x, double s) { using Scalar half = 0.5, shift = s, one = 1; return (x * half).add(shift, one); }
            }
            """;
        var found = ProbeFindings(code);
        Assert.Equal(5, found.Count); // x * 0.5, add(s) twice (its argument and its own alpha), clamp's 0.0 and 1.0; nothing in Good
        Assert.All(found, f => Assert.StartsWith("Probe.cs:5", f));
    }

    [Fact]
    public void TheCheckFindsScalarsTorchSharpMakesItself()
    {
        const string code = """
            using TorchSharp;
            using static TorchSharp.torch;
            static class Probe
            {
                static Tensor Bad(Tensor a, Tensor b) => (a + b).square().add(b);
                static Tensor Good(Tensor a, Tensor b) { using Scalar one = 1, two = 2; return a.add(b, one).pow(two).sub(b); }
            }
            """;
        var found = ProbeFindings(code);
        Assert.Equal(3, found.Count); // a + b, square(), add(b); nothing in Good
        Assert.All(found, f => Assert.StartsWith("Probe.cs:5", f));
        Assert.Contains(found, f => f.Contains("Tensor.op_Addition(Tensor,Tensor)"));
    }

    /// <summary>What the check names in <paramref name="code"/>, compiled as /probe/Probe.cs.</summary>
    private static List<string> ProbeFindings(string code)
    {
        var tree = CSharpSyntaxTree.ParseText(code, path: "/probe/Probe.cs");
        var compilation = CSharpCompilation.Create("Probe", [tree], References(), new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        return TemporaryScalars(compilation.GetSemanticModel(tree), tree, "/probe").ToList();
    }

    private static IEnumerable<string> TemporaryScalars(SemanticModel model, SyntaxTree tree, string root)
    {
        foreach (var node in tree.GetRoot().DescendantNodes())
        {
            string? what = node switch
            {
                BinaryExpressionSyntax or AssignmentExpressionSyntax when TensorOperatorWithNumber(model, node) => "tensor operator with a number",
                ArgumentSyntax arg when IsTemporaryScalar(model, arg.Expression) => "temporary Scalar argument",
                InvocationExpressionSyntax or BinaryExpressionSyntax or AssignmentExpressionSyntax or CastExpressionSyntax
                    when MakesItsOwnScalar(model, node) is { } callee => $"{callee} makes a temporary Scalar inside TorchSharp",
                _ => null,
            };
            if (what == null) continue;
            var line = node.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
            yield return $"{Path.GetRelativePath(root, tree.FilePath)}:{line}: {what}: {node.ToString().Trim()}";
        }
    }

    /// <summary>The TorchSharp method <paramref name="node"/> calls when that method (or one it calls) makes a Scalar
    /// it never disposes, e.g. <c>a + b</c> (alpha 1), <c>square()</c> (exponent 2); null otherwise.</summary>
    private static string? MakesItsOwnScalar(SemanticModel model, SyntaxNode node)
    {
        var symbol = node is CastExpressionSyntax cast ? model.GetConversion(cast).MethodSymbol : model.GetSymbolInfo(node).Symbol as IMethodSymbol;
        if (symbol is null || symbol.ContainingAssembly?.Name != "TorchSharp") return null;
        var method = (symbol.ReducedFrom ?? symbol).OriginalDefinition;
        var key = TorchSharpScalars.Key(method);
        return TorchSharpScalars.Unsafe.Contains(key) ? key : null;
    }

    private static bool TensorOperatorWithNumber(SemanticModel model, SyntaxNode node) =>
        model.GetSymbolInfo(node).Symbol is IMethodSymbol { MethodKind: MethodKind.UserDefinedOperator } op
        && op.ContainingType.Name == "Tensor"
        && op.Parameters.Any(p => p.Type.SpecialType is >= SpecialType.System_Boolean and <= SpecialType.System_Double);

    private static bool IsTemporaryScalar(SemanticModel model, ExpressionSyntax expression)
    {
        var info = model.GetTypeInfo(expression);
        if (info.ConvertedType?.Name != "Scalar" || info.ConvertedType.ContainingNamespace?.Name != "TorchSharp") return false;
        if (info.Type is { Name: "Scalar" } && HeldValue(model, expression)) return false;
        return info.Type is not null || model.GetConversion(expression).IsUserDefined;
    }

    // A local, parameter, field or property already holds the Scalar; anything else (a conversion, ToScalar(), new) is a temporary.
    private static bool HeldValue(SemanticModel model, ExpressionSyntax expression)
    {
        while (expression is ParenthesizedExpressionSyntax p) expression = p.Expression;
        return model.GetSymbolInfo(expression).Symbol is ILocalSymbol or IParameterSymbol or IFieldSymbol or IPropertySymbol;
    }

    private static CSharpCompilation Compile(string name, string folder, IEnumerable<MetadataReference> references, OutputKind kind)
    {
        var options = new CSharpParseOptions(LanguageVersion.Preview);
        var trees = Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), options, path: f))
            .Append(CSharpSyntaxTree.ParseText(string.Concat(ImplicitUsings.Select(u => $"global using {u};\n")), options, path: "GlobalUsings.cs"));
        return CSharpCompilation.Create(name, trees, references,
            new CSharpCompilationOptions(kind, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
    }

    private static List<MetadataReference> References(params string[] exclude)
    {
        var own = new HashSet<string>(["NextStep.Cli.dll", "NextStep.Tests.dll", .. exclude], StringComparer.OrdinalIgnoreCase);
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var local = Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll");
        return platform.Concat(local).Where(f => !own.Contains(Path.GetFileName(f)))
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase).Select(g => g.First())
            .Where(IsManaged).Select(f => (MetadataReference)MetadataReference.CreateFromFile(f)).ToList();
    }

    private static bool IsManaged(string file)
    {
        try { System.Reflection.AssemblyName.GetAssemblyName(file); return true; }
        catch (BadImageFormatException) { return false; }
    }

    private static string SourceRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "src", "NextStep", "NextStep.csproj"))) return Path.Combine(dir.FullName, "src");
        throw new Xunit.Sdk.XunitException("src/NextStep was not found above the test binary");
    }
}
