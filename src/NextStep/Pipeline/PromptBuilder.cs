using NextStep.Tokenization;

namespace NextStep.Pipeline;

/// <summary>
/// The prompt rows of one run, block-major: <c>[cond (B)] [image + negative (B), when image guidance] [negative (B),
/// when text guidance]</c>, B = captions × images per caption. <see cref="ImageOrder"/> lists, for the VAE batch, which
/// input image each encoded image is (the placeholders of the rows take the encoded images in this order).
/// </summary>
public sealed record PromptRows(IReadOnlyList<string> Texts, IReadOnlyList<int> ImageOrder, int Blocks)
{
    public int Batch => Texts.Count / Blocks;
}

/// <summary>Token ids of all rows, left-padded, with the generation prefix appended (int64 [rows, L]).</summary>
public sealed record PromptTokens(long[,] InputIds, long[,] AttentionMask);

/// <summary>Builds the prompt rows and their token ids exactly as the selected official pipeline does.</summary>
public sealed class PromptBuilder
{
    public const string ImageAreaToken = "<|image_area|>";

    private readonly Qwen2Tokenizer _tokenizer;
    private readonly int _boi, _eoi, _placeholder, _downFactor;
    private readonly PipelineVariant _variant;

    public PromptBuilder(Qwen2Tokenizer tokenizer, int boi, int eoi, int imagePlaceholderId, int downFactor, PipelineVariant variant)
    {
        _tokenizer = tokenizer;
        (_boi, _eoi, _placeholder, _downFactor, _variant) = (boi, eoi, imagePlaceholderId, downFactor, variant);
    }

    /// <summary><c>&lt;|image_area|&gt;{h}*{w}</c> in token-grid units (pixels / down factor).</summary>
    public string ImageArea(int height, int width) => $"{ImageAreaToken}{height / _downFactor}*{width / _downFactor}";

    /// <summary>What replaces <c>&lt;image&gt;</c>: the image area, then BOI, one placeholder per image token, EOI.</summary>
    public string ImageString(int height, int width)
    {
        int n = (height / _downFactor) * (width / _downFactor);
        var ids = new int[n + 2];
        ids[0] = _boi;
        Array.Fill(ids, _placeholder, 1, n);
        ids[^1] = _eoi;
        return ImageArea(height, width) + _tokenizer.Decode(ids);
    }

    /// <summary>Caption rows in the order the official code builds them (v1.1: the tokenizer's BOS string before every row).</summary>
    public PromptRows BuildRows(GenerationRequest request)
    {
        var images = request.Images;
        int k = request.NumImagesPerCaption;

        // 1. <image> → image string, images taken in caption order
        int next = 0;
        var captions = request.Captions.Select(caption =>
        {
            if (images is null) return caption;
            var parts = caption.Split(GenerationRequest.ImageTag);
            var expanded = parts[0];
            for (int p = 1; p < parts.Length; p++, next++)
                expanded += ImageString(images[next].Height, images[next].Width) + parts[p];
            return expanded;
        }).ToList();

        // 2. repeat each caption (and its images) k times, consecutively
        var rows = captions.SelectMany(c => Enumerable.Repeat(c, k)).ToList();
        var imageOrder = Enumerable.Range(0, request.ImageCount).SelectMany(i => Enumerable.Repeat(i, k)).ToList();

        // 3. positive prompt on the conditional rows
        if (!string.IsNullOrEmpty(request.PositivePrompt))
            rows = rows.Select(r => r + " " + request.PositivePrompt).ToList();

        // 4. guidance rows
        var negative = request.NegativePrompt ?? "";
        int b = rows.Count, blocks = 1;
        if (request.Cfg != 1.0)
        {
            if (request.CfgImg != 1.0)
            {
                var first = images![0];
                rows.AddRange(Enumerable.Repeat(ImageString(first.Height, first.Width) + negative, b));
                imageOrder.AddRange(imageOrder.ToList());
                blocks++;
            }
            rows.AddRange(Enumerable.Repeat(negative, b));
            blocks++;
        }

        if (_variant == PipelineVariant.V11 && _tokenizer.BosToken is { } bos)
            rows = rows.Select(r => bos + r).ToList();
        return new PromptRows(rows, imageOrder, blocks);
    }

    /// <summary>Tokenizes the rows with left padding and appends the generation prefix (image area + BOI) to each.</summary>
    public PromptTokens Tokenize(PromptRows rows, int height, int width)
    {
        var prefix = _tokenizer.Encode(ImageArea(height, width)).ToList();
        if (_tokenizer.BosToken is not null && prefix.Count > 0) prefix.RemoveAt(0);
        prefix.Add(_boi);

        var text = _tokenizer.EncodeBatch(rows.Texts, paddingSide: PaddingSide.Left);
        int rowCount = text.Rows, len = text.Length + prefix.Count;
        var ids = new long[rowCount, len];
        var mask = new long[rowCount, len];
        for (int r = 0; r < rowCount; r++)
            for (int j = 0; j < len; j++)
            {
                bool isText = j < text.Length;
                ids[r, j] = isText ? text.InputIds[r, j] : prefix[j - text.Length];
                mask[r, j] = isText ? text.AttentionMask[r, j] : 1;
            }
        return new PromptTokens(ids, mask);
    }
}
