namespace NextStep.Tokenization;

/// <summary>Which end of a row receives the pad tokens.</summary>
public enum PaddingSide { Left, Right }

/// <summary>
/// Token ids of several texts padded to one length, as transformers' <c>tokenizer(texts, padding="longest")</c>
/// returns them: <see cref="InputIds"/>[row, position] and <see cref="AttentionMask"/> (1 on real tokens, 0 on pads),
/// both <c>[Rows, Length]</c>; <c>torch.tensor(batch.InputIds)</c> makes the int64 tensor the model takes.
/// </summary>
/// <param name="Warnings">one line per text longer than the tokenizer's model_max_length (truncated or not); the caller decides how to show them</param>
public sealed record BatchEncoding(long[,] InputIds, long[,] AttentionMask, IReadOnlyList<string> Warnings)
{
    public int Rows => InputIds.GetLength(0);
    public int Length => InputIds.GetLength(1);
}
