namespace NextStep.Tests.Reliability;

/// <summary>
/// A seeded byte-level mutator for robustness tests: bit flips, byte overwrites with interesting values,
/// deletions, duplications, insertions and truncations — the classic AFL havoc moves, deterministic per seed.
/// </summary>
public static class Mutator
{
    private static readonly byte[] Interesting = [0, 1, 0x7F, 0x80, 0xFF, (byte)'"', (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)',', (byte)':', (byte)'-', (byte)'9', (byte)'\\', (byte)'\n'];

    /// <summary>
    /// One mutant of <paramref name="input"/>. Mutations land in <paramref name="focus"/> (byte ranges of the input;
    /// null = anywhere), so that a large file's structure is mutated rather than its bulk data.
    /// </summary>
    public static byte[] Mutate(byte[] input, Random rng, int maxMoves = 4, IReadOnlyList<(int Start, int Length)>? focus = null)
    {
        var data = new List<byte>(input);
        int focused = focus?.Sum(r => r.Length) ?? 0;
        int moves = 1 + rng.Next(maxMoves);
        for (int m = 0; m < moves && data.Count > 0; m++)
        {
            int at = Math.Min(focus is null || focused == 0 ? rng.Next(data.Count) : Position(focus, rng.Next(focused)), data.Count - 1);
            switch (rng.Next(7))
            {
                case 0: data[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: data[at] = Interesting[rng.Next(Interesting.Length)]; break;
                case 2: data.RemoveRange(at, Math.Min(1 + rng.Next(8), data.Count - at)); break;
                case 3: { int src = rng.Next(data.Count); data.InsertRange(at, data.GetRange(src, Math.Min(1 + rng.Next(16), data.Count - src)).ToArray()); break; }
                case 4: data.Insert(at, Interesting[rng.Next(Interesting.Length)]); break;
                case 5: data.RemoveRange(at, data.Count - at); break;
                default: data[at] = (byte)rng.Next(256); break;
            }
        }
        return data.ToArray();
    }

    private static int Position(IReadOnlyList<(int Start, int Length)> focus, int k)
    {
        foreach (var (start, length) in focus)
        {
            if (k < length) return start + k;
            k -= length;
        }
        throw new ArgumentOutOfRangeException(nameof(k));
    }

    /// <summary>
    /// Feeds <paramref name="iterations"/> mutants of <paramref name="seedInput"/> to <paramref name="target"/>:
    /// each must succeed or throw <see cref="NextStepException"/>; anything else fails with the seed to replay it.
    /// </summary>
    public static (int Accepted, int Rejected) Run(byte[] seedInput, int iterations, int seed, Action<byte[]> target,
        IReadOnlyList<(int Start, int Length)>? focus = null)
    {
        int accepted = 0, rejected = 0;
        for (int i = 0; i < iterations; i++)
        {
            var mutant = Mutate(seedInput, Rng(seed, i), focus: focus);
            try { target(mutant); accepted++; }
            catch (NextStepException) { rejected++; }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"mutant {i} (seed {seed}) raised {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        return (accepted, rejected);
    }

    /// <summary>The random source of mutant <paramref name="i"/> of a pass (replay one mutant with it).</summary>
    public static Random Rng(int seed, int i) => new(seed * 100_003 + i);
}
