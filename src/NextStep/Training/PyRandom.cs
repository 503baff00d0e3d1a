namespace NextStep.Training;

/// <summary>
/// Python's <c>random.Random(seed).random()</c> (MT19937 seeded through <c>init_by_array</c>, 53-bit doubles), and
/// the official data code's <c>make_seed</c>, so that per-sample data decisions equal the official ones.
/// </summary>
public sealed class PyRandom
{
    private const int N = 624, M = 397;
    private readonly uint[] _mt = new uint[N];
    private int _index;

    /// <summary>random.Random(seed) for a non-negative seed below 2³².</summary>
    public PyRandom(uint seed)
    {
        InitGenrand(19650218u);
        // init_by_array with the single key word [seed]
        int i = 1, j = 0;
        for (int k = N; k > 0; k--)
        {
            _mt[i] = (_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1664525u)) + seed + (uint)j;
            i++; j = 0;
            if (i >= N) { _mt[0] = _mt[N - 1]; i = 1; }
        }
        for (int k = N - 1; k > 0; k--)
        {
            _mt[i] = (_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1566083941u)) - (uint)i;
            i++;
            if (i >= N) { _mt[0] = _mt[N - 1]; i = 1; }
        }
        _mt[0] = 0x80000000u;
    }

    private void InitGenrand(uint s)
    {
        _mt[0] = s;
        for (int i = 1; i < N; i++) _mt[i] = 1812433253u * (_mt[i - 1] ^ (_mt[i - 1] >> 30)) + (uint)i;
        _index = N;
    }

    private uint NextUInt32()
    {
        if (_index >= N)
        {
            for (int k = 0; k < N; k++)
            {
                uint y = (_mt[k] & 0x80000000u) | (_mt[(k + 1) % N] & 0x7fffffffu);
                _mt[k] = _mt[(k + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
            }
            _index = 0;
        }
        uint x = _mt[_index++];
        x ^= x >> 11;
        x ^= (x << 7) & 0x9d2c5680u;
        x ^= (x << 15) & 0xefc60000u;
        x ^= x >> 18;
        return x;
    }

    /// <summary>A double in [0, 1) from two 32-bit draws, as <c>random.random()</c>.</summary>
    public double Random()
    {
        uint a = NextUInt32() >> 5, b = NextUInt32() >> 6;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /// <summary>The official <c>make_seed(*ints)</c>: seed = (seed·31 + arg) mod 2³¹ over non-negative integer arguments.</summary>
    public static uint MakeSeed(params long[] args)
    {
        long seed = 0;
        foreach (var a in args)
        {
            if (a < 0) throw new ArgumentOutOfRangeException(nameof(args), "make_seed takes non-negative integers");
            seed = (seed * 31 + a) & 0x7FFFFFFF;
        }
        return (uint)seed;
    }
}
