using System.Collections.Concurrent;
using System.Text;

namespace NextStep.Tokenization;

/// <summary>
/// Byte-level BPE: a piece of text becomes its UTF-8 bytes (one symbol each), then adjacent symbols are merged,
/// always the pair with the lowest merge rank first (leftmost among equal ranks), until no pair has a merge.
/// The merge order, including how stale queue entries are recognised, follows Hugging Face tokenizers' BPE
/// word merging, so the ids are the same. Results are cached per piece; the cache is safe for concurrent use.
/// </summary>
internal sealed class BytePairModel
{
    private const int CacheCapacity = 200_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _idToToken;
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly int[] _byteIds = new int[256];
    private readonly ConcurrentDictionary<string, int[]> _cache = new();
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;

    /// <param name="vocab">token string → id (byte-level strings)</param>
    /// <param name="merges">merge pairs in rank order (rank = index)</param>
    /// <param name="where">names the file and field in error messages</param>
    public BytePairModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, string where)
    {
        _vocab = vocab;
        _idToToken = new string?[vocab.Count == 0 ? 0 : vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab) _idToToken[id] = token;

        for (int b = 0; b < 256; b++)
            if (!vocab.TryGetValue(ByteLevel.ByteToChar[b].ToString(), out _byteIds[b]))
                throw new NextStepException($"{where}: model.vocab lacks the byte-level token \"{ByteLevel.ByteToChar[b]}\" for byte 0x{b:X2}; a byte-level BPE vocabulary must hold all 256");

        _merges = new Dictionary<long, (int, int)>(merges.Count);
        var bySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> joined = stackalloc char[256];
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            int length = left.Length + right.Length;
            var both = length <= joined.Length ? joined[..length] : new char[length];
            left.CopyTo(both);
            right.CopyTo(both[left.Length..]);
            if (!vocab.TryGetValue(left, out int l) || !vocab.TryGetValue(right, out int r) || !bySpan.TryGetValue(both, out int merged))
                throw new NextStepException($"{where}: model.merges[{rank}] (\"{left}\" \"{right}\") uses a token that is not in model.vocab");
            _merges.TryAdd(Key(l, r), (rank, merged));
        }
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Number of ids the vocabulary spans (largest id + 1).</summary>
    public int Size => _idToToken.Length;

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    /// <summary>Appends the ids of one pre-tokenized piece of (normalized) text.</summary>
    public void Encode(ReadOnlySpan<char> piece, List<int> output)
    {
        if (_cacheBySpan.TryGetValue(piece, out var cached)) { output.AddRange(cached); return; }
        var ids = Merge(piece);
        if (_cache.Count < CacheCapacity) _cacheBySpan.TryAdd(piece, ids);
        output.AddRange(ids);
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Working memory of <see cref="Merge"/>, reused per thread.</summary>
    private sealed class Scratch
    {
        public int[] Ids = new int[64], Prev = new int[64], Next = new int[64];
        public readonly PriorityQueue<(int Pos, int Id), long> Queue = new();

        public void Reserve(int n)
        {
            if (Ids.Length >= n) return;
            Ids = new int[n]; Prev = new int[n]; Next = new int[n];
        }
    }

    [ThreadStatic] private static Scratch? _scratch;

    private int[] Merge(ReadOnlySpan<char> piece)
    {
        int n = Encoding.UTF8.GetByteCount(piece);
        if (n == 0) return [];
        Span<byte> bytes = n <= 512 ? stackalloc byte[n] : new byte[n];
        Encoding.UTF8.GetBytes(piece, bytes);

        // Symbols form a doubly linked list; a merged-away symbol gets id -1.
        var s = _scratch ??= new Scratch();
        s.Reserve(n);
        int[] ids = s.Ids, prev = s.Prev, next = s.Next;
        var queue = s.Queue;
        queue.Clear();
        for (int i = 0; i < n; i++) { ids[i] = _byteIds[bytes[i]]; prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }
        for (int i = 0; i + 1 < n; i++) Push(queue, ids, i, i + 1);

        // Entries are (position, id the merge would produce), ordered by (rank, position).
        int count = n;
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos;
            if (ids[pos] < 0 || next[pos] < 0) continue;
            int right = next[pos];
            // An entry is stale when the pair at its position no longer merges into the token it was queued for.
            if (!_merges.TryGetValue(Key(ids[pos], ids[right]), out var m) || m.Id != top.Id) continue;
            ids[pos] = m.Id;
            ids[right] = -1;
            count--;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0) Push(queue, ids, prev[pos], pos);
            if (next[pos] >= 0) Push(queue, ids, pos, next[pos]);
        }

        var result = new int[count];
        for (int i = 0, k = 0; i >= 0; i = next[i]) result[k++] = ids[i];
        return result;
    }

    private void Push(PriorityQueue<(int Pos, int Id), long> queue, int[] ids, int left, int right)
    {
        if (_merges.TryGetValue(Key(ids[left], ids[right]), out var m)) queue.Enqueue((left, m.Id), ((long)m.Rank << 32) | (uint)left);
    }
}
