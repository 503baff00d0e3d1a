using System.Text.RegularExpressions;
using NextStep.Config;
using NextStep.Tokenization;

namespace NextStep.Training;

/// <summary>An image's token grid (h × w cells of 16 px); its aspect key is "h*w" as in the official buckets.</summary>
public readonly record struct TokenGrid(int Height, int Width)
{
    public int Count => Height * Width;
    public string Key => $"{Height}*{Width}";
    public override string ToString() => Key;
}

/// <summary>
/// One sample's token sequence before packing: ids, labels (−100 = no loss), its images in placeholder order, which
/// of them get flow-matching loss, and the aspect bucket ("h*w", or "0*0" when its images differ in shape).
/// </summary>
public sealed record TokenizedSample<TImage>(int[] InputIds, int[] Labels, IReadOnlyList<TImage> Images, IReadOnlyList<bool> ImageFilteredIdx, string Bucket);

/// <summary>A packed batch: rows of exactly <c>max_len</c> tokens, right-padded with [PAD] (attention mask 1 everywhere).</summary>
public sealed record PackedBatch<TImage>(int[][] InputIds, int[][] Labels, IReadOnlyList<TImage> Images, IReadOnlyList<bool> ImageFilteredIdx, string Bucket, int PadTokens);

/// <summary>
/// Builds training sequences as the official <c>MixedDataset</c> does. An image's block is
/// prefix("&lt;|image_area|&gt;h*w") + BOI + h·w placeholders + EOI. Text-to-image samples are caption → image → EOS,
/// or, with probability drop_text_prob decided per sample by <c>random.Random(make_seed(seed, index))</c>,
/// image → caption → EOS. Labels copy the ids except BOI and the first h·w − 1 placeholders of every image, and an EOS
/// right after an EOI.
/// </summary>
public sealed class SequenceBuilder
{
    public const int IgnoreIndex = -100;
    public const string AnyBucket = "0*0";
    private static readonly Regex ImageTag = new(@"<image_(\d+)>", RegexOptions.CultureInvariant);

    private readonly Qwen2Tokenizer _tokenizer;
    private readonly Dictionary<TokenGrid, int[]> _prefixes = new();
    public int Boi { get; }
    public int Eoi { get; }
    public int Placeholder { get; }
    public int Eos { get; }
    public string PlaceholderToken { get; }

    /// <summary>The id that right-pads a model's training rows: <c>pad_token_id</c>, else <c>eos_token_id</c>, else 0.</summary>
    public static int PadId(NextStepConfig c) => c.PadTokenId ?? c.EosTokenId ?? 0;

    /// <summary>Rows of different lengths as one [rows, longest] array, each right-padded with <paramref name="fill"/>.</summary>
    public static long[,] RightPadded(IReadOnlyList<int[]> rows, int fill)
    {
        int length = rows.Max(r => r.Length);
        var padded = new long[rows.Count, length];
        for (int r = 0; r < rows.Count; r++)
            for (int j = 0; j < length; j++) padded[r, j] = j < rows[r].Length ? rows[r][j] : fill;
        return padded;
    }

    public SequenceBuilder(Qwen2Tokenizer tokenizer, int boi, int eoi, int placeholder)
    {
        _tokenizer = tokenizer;
        Boi = boi; Eoi = eoi; Placeholder = placeholder;
        Eos = tokenizer.EosTokenId ?? throw new NextStepException("the tokenizer has no eos_token; training sequences end with EOS");
        PlaceholderToken = tokenizer.IdToToken(placeholder) ?? throw new NextStepException($"image_placeholder_id {placeholder} is not a token of the tokenizer");
    }

    /// <summary>The aspect prefix ids: tokens of "&lt;|image_area|&gt;h*w", the first dropped when the tokenizer defines a BOS token.</summary>
    public int[] Prefix(TokenGrid grid)
    {
        if (!_prefixes.TryGetValue(grid, out var ids))
        {
            ids = _tokenizer.Encode($"<|image_area|>{grid.Height}*{grid.Width}");
            if (_tokenizer.BosToken is not null) ids = ids[1..];
            _prefixes[grid] = ids;
        }
        return ids;
    }

    public int[] ImageBlock(TokenGrid grid) => [.. Prefix(grid), Boi, .. Enumerable.Repeat(Placeholder, grid.Count), Eoi];

    /// <summary>The official drop-text draw of sample <paramref name="index"/>: image before caption when it is below drop_text_prob.</summary>
    public static bool ImageFirst(int seed, long index, double dropTextProb) =>
        new PyRandom(PyRandom.MakeSeed(seed, index)).Random() < dropTextProb;

    /// <summary>A text-to-image pair: caption → image → EOS, or image → caption → EOS (the drop-text order).</summary>
    public TokenizedSample<TImage> TextToImage<TImage>(string caption, TImage image, TokenGrid grid, bool imageFirst)
    {
        var text = _tokenizer.Encode(caption);
        var block = ImageBlock(grid);
        int[] ids;
        if (!imageFirst) ids = [.. text, .. block, Eos];
        else if (_tokenizer.BosToken is not null && text.Length > 0) ids = [text[0], .. block, .. text[1..], Eos];
        else ids = [.. block, .. text, Eos];
        return new TokenizedSample<TImage>(ids, Labels(ids, [grid]), [image], [true], grid.Key);
    }

    /// <summary>
    /// A caption with &lt;image_n&gt; tags (editing and interleaved data); the tags take <paramref name="images"/> in
    /// order of appearance. With <paramref name="lastImageOnly"/> (editing) only the last image gets flow-matching loss.
    /// </summary>
    public TokenizedSample<TImage> Interleaved<TImage>(string caption, IReadOnlyList<TImage> images, IReadOnlyList<TokenGrid> grids, bool lastImageOnly)
    {
        var text = _tokenizer.Encode(ImageTag.Replace(caption, PlaceholderToken));
        int tags = text.Count(t => t == Placeholder);
        if (tags != images.Count || grids.Count != images.Count)
            throw new NextStepException($"caption \"{caption}\" has {tags} image tags but {images.Count} images were given");
        var ids = new List<int>();
        int n = 0;
        foreach (var t in text)
            if (t == Placeholder) ids.AddRange(ImageBlock(grids[n++]));
            else ids.Add(t);
        ids.Add(Eos);
        var filtered = Enumerable.Range(0, images.Count).Select(i => !lastImageOnly || i == images.Count - 1).ToList();
        string bucket = grids.Distinct().Count() == 1 ? grids[0].Key : AnyBucket;
        return new TokenizedSample<TImage>(ids.ToArray(), Labels(ids, grids), images, filtered, bucket);
    }

    private int[] Labels(IReadOnlyList<int> ids, IReadOnlyList<TokenGrid> grids)
    {
        var labels = ids.ToArray();
        if (ids.Count >= 2 && ids[^2] == Eoi) labels[^1] = IgnoreIndex;
        int image = 0;
        for (int i = 0; i < ids.Count; i++)
            if (ids[i] == Boi)
            {
                int count = grids[image++].Count;
                for (int k = i; k < Math.Min(i + count, ids.Count); k++) labels[k] = IgnoreIndex;
            }
        return labels;
    }
}

/// <summary>
/// Packs samples into rows of <c>maxLen</c> tokens and rows into batches, as the official <c>ImageBuffer</c> and
/// <c>BatchBucket</c>: samples queue per aspect bucket; whenever the longest queue reaches <c>maxLen</c> tokens, the
/// whole samples that fit are taken as one row and right-padded with [PAD]; rows are grouped into batches of
/// <c>batchSize</c> per bucket. No document masking: attention spans the whole row.
/// </summary>
public sealed class BatchPacker<TImage>
{
    private readonly int _maxLen, _batchSize, _pad;
    private readonly List<string> _bucketOrder = new();
    private readonly Dictionary<string, List<TokenizedSample<TImage>>> _queues = new();
    private readonly Dictionary<string, List<(TokenizedSample<TImage>[] Samples, int Pad)>> _rows = new();

    public BatchPacker(int maxLen, int batchSize, int padTokenId)
    {
        if (maxLen <= 0 || batchSize <= 0) throw new NextStepException($"packing needs a positive row length and batch size (got {maxLen}, {batchSize})");
        _maxLen = maxLen; _batchSize = batchSize; _pad = padTokenId;
    }

    public int MaxLength => _maxLen;

    /// <summary>Queues a sample; returns the batches it completed (usually none). A sample longer than a row is an error.</summary>
    public List<PackedBatch<TImage>> Add(TokenizedSample<TImage> sample)
    {
        if (sample.InputIds.Length > _maxLen)
            throw new NextStepException($"a training sample has {sample.InputIds.Length} tokens, more than the packed row length {_maxLen} (shorten the caption or raise the row length)");
        if (!_queues.TryGetValue(sample.Bucket, out var queue))
        {
            _queues[sample.Bucket] = queue = new();
            _rows[sample.Bucket] = new();
            _bucketOrder.Add(sample.Bucket);
        }
        queue.Add(sample);
        var done = new List<PackedBatch<TImage>>();
        while (Longest() is { } bucket && Length(_queues[bucket]) >= _maxLen)
            TakeRow(bucket, done);
        return done;
    }

    /// <summary>Packs what is still queued into (padded) rows and returns every batch that then has rows, partial batches included.</summary>
    public List<PackedBatch<TImage>> Flush()
    {
        var done = new List<PackedBatch<TImage>>();
        foreach (var bucket in _bucketOrder)
            while (_queues[bucket].Count > 0) TakeRow(bucket, done);
        foreach (var bucket in _bucketOrder)
            if (_rows[bucket].Count > 0) { done.Add(Build(bucket, _rows[bucket])); _rows[bucket].Clear(); }
        return done;
    }

    private static int Length(List<TokenizedSample<TImage>> q) => q.Sum(s => s.InputIds.Length);

    private string? Longest()
    {
        string? best = null; int bestLen = 0;
        foreach (var b in _bucketOrder)
        {
            int len = Length(_queues[b]);
            if (len > bestLen) { best = b; bestLen = len; }
        }
        return best;
    }

    private void TakeRow(string bucket, List<PackedBatch<TImage>> done)
    {
        var queue = _queues[bucket];
        int count = 0, used = 0;
        while (count < queue.Count && used + queue[count].InputIds.Length <= _maxLen) used += queue[count++].InputIds.Length;
        var row = queue.GetRange(0, count).ToArray();
        queue.RemoveRange(0, count);
        var rows = _rows[bucket];
        rows.Add((row, _maxLen - used));
        if (rows.Count == _batchSize) { done.Add(Build(bucket, rows)); rows.Clear(); }
    }

    private PackedBatch<TImage> Build(string bucket, List<(TokenizedSample<TImage>[] Samples, int Pad)> rows)
    {
        var ids = rows.Select(r => r.Samples.SelectMany(s => s.InputIds).Concat(Enumerable.Repeat(_pad, r.Pad)).ToArray()).ToArray();
        var labels = rows.Select(r => r.Samples.SelectMany(s => s.Labels).Concat(Enumerable.Repeat(SequenceBuilder.IgnoreIndex, r.Pad)).ToArray()).ToArray();
        var samples = rows.SelectMany(r => r.Samples).ToList();
        return new PackedBatch<TImage>(ids, labels, samples.SelectMany(s => s.Images).ToList(),
            samples.SelectMany(s => s.ImageFilteredIdx).ToList(), bucket, rows.Sum(r => r.Pad));
    }
}
