using NextStep;

namespace NextStep.Bench;

/// <summary>Command-line options shared by every suite.</summary>
public sealed record BenchOptions(string OutDir, string Fixtures)
{
    public static BenchOptions Parse(string[] args)
    {
        string outDir = Path.Combine("out", "bench");
        string? fixtures = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new NextStepException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--out": outDir = Value(); break;
                case "--fixtures": fixtures = Value(); break;
                default: throw new NextStepException($"unknown option \"{args[i]}\" (expected --out DIR or --fixtures DIR)");
            }
        }
        return new BenchOptions(outDir, fixtures ?? FindFixtures());
    }

    /// <summary>shared/fixtures beside the checkout, found by walking up from the working directory.</summary>
    private static string FindFixtures()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir != null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "fixtures");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new NextStepException("shared/fixtures not found above the working directory; pass --fixtures DIR");
    }
}

/// <summary>What a suite measured: named figures with their units in the names.</summary>
public sealed record BenchResult(string Suite, string Machine, IReadOnlyDictionary<string, double> Figures);
