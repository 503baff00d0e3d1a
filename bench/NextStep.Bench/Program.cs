using System.Text.Json;
using NextStep;
using NextStep.Bench;

// Benchmarks: `dotnet run --project bench/NextStep.Bench -c Release -- <suite> [--out DIR] [--fixtures DIR]`.
// Each suite prints its figures and writes them as JSON to DIR/<suite>.json (default out/bench).
// To add a suite, add it to this table.
var suites = new Dictionary<string, Func<BenchOptions, BenchResult>>
{
    ["tokenizer"] = TokenizerSuite.Run,
};

if (args.Length == 0 || !suites.TryGetValue(args[0], out var suite))
{
    Console.Error.WriteLine($"usage: NextStep.Bench <{string.Join("|", suites.Keys)}> [--out DIR] [--fixtures DIR]");
    return 2;
}
try
{
    var options = BenchOptions.Parse(args[1..]);
    var result = suite(options);
    Directory.CreateDirectory(options.OutDir);
    var file = Path.Combine(options.OutDir, args[0] + ".json");
    File.WriteAllText(file, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }) + "\n");
    Console.WriteLine($"wrote {file}");
    return 0;
}
catch (NextStepException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
