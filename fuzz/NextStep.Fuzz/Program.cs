using NextStep;
using NextStep.Config;
using NextStep.Loading;
using SharpFuzz;

// AFL++ harnesses (SharpFuzz) for every loader that reads files from strangers. A run counts as a crash when the
// loader throws anything but NextStepException (the clear, user-facing error). Usage: see fuzz/run.sh.
if (args.Length < 1 || !Targets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: NextStep.Fuzz <{string.Join("|", Targets.All.Keys)}> [file]");
    return 2;
}
if (args.Length > 1) { Targets.Guard(target, File.ReadAllBytes(args[1])); return 0; } // replay one input
Fuzzer.OutOfProcess.Run(stream =>
{
    using var ms = new MemoryStream();
    stream.CopyTo(ms);
    Targets.Guard(target, ms.ToArray());
});
return 0;

static class Targets
{
    private static readonly string Scratch = Path.Combine(Path.GetTempPath(), $"nextstep-fuzz-{Environment.ProcessId}");

    public static readonly Dictionary<string, Action<byte[]>> All = new()
    {
        ["safetensors"] = bytes =>
        {
            using var f = SafeTensorsFile.Open(Write("x.safetensors", bytes));
            foreach (var name in f.Tensors.Keys) f.Load(name).Dispose();
        },
        ["config"] = bytes => NextStepConfig.Load(Write("config.json", bytes)),
        ["vae-config"] = bytes => VaeConfig.Load(Write("config.json", bytes)),
    };

    private static string Write(string name, byte[] bytes)
    {
        Directory.CreateDirectory(Scratch);
        var p = Path.Combine(Scratch, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    public static void Guard(Action<byte[]> target, byte[] input)
    {
        try { target(input); }
        catch (NextStepException) { }
    }
}
