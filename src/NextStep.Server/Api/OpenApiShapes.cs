using System.Text.Json.Serialization;

namespace NextStep.Server.Api;

/// <summary>Request and response shapes as the OpenAPI document describes them (the handlers parse and validate by hand).</summary>
public static class OpenApiShapes
{
    public sealed record GenerationBody(
        string Prompt,
        [property: JsonPropertyName("negative_prompt")] string? NegativePrompt = null,
        int N = 1,
        string Size = "512x512",
        [property: JsonPropertyName("response_format")] string ResponseFormat = "url",
        long? Seed = null,
        int? Steps = null,
        double? Cfg = null,
        double? Shift = null,
        [property: JsonPropertyName("use_norm")] bool? UseNorm = null,
        string Preset = "t2i",
        int Candidates = 1);

    public sealed record EditBody(
        byte[] Image,
        string Prompt,
        [property: JsonPropertyName("negative_prompt")] string? NegativePrompt = null,
        int N = 1,
        string Size = "512x512",
        [property: JsonPropertyName("response_format")] string ResponseFormat = "url",
        long? Seed = null,
        int? Steps = null,
        double? Cfg = null,
        [property: JsonPropertyName("cfg_img")] double? CfgImg = null,
        double? Shift = null,
        [property: JsonPropertyName("use_norm")] bool? UseNorm = null,
        string Preset = "edit");

    public sealed record ImageData([property: JsonPropertyName("b64_json")] string? B64Json, string? Url);
    public sealed record ImagesResponse(long Created, ImageData[] Data);
    public sealed record Progress(int Done, int Total);
    public sealed record ImageUrl(string Url);
    public sealed record Job(string Id, string Object, long Created, string Kind, string State, Progress Progress, int Attempts,
        Error? Error, long? Finished, GenerationBody Params, ImageUrl[] Images);
    public sealed record JobList(string Object, Job[] Data, [property: JsonPropertyName("next_before")] long? NextBefore);
    public sealed record Error(string Message, string? Type = null, string? Param = null, string? Code = null);
    public sealed record ErrorBody(Error Error);
}
