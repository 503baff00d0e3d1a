using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using NextStep.Imaging;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>
/// Image decode limits: file size, side length and pixel count are checked from the file and its header, before any
/// pixel memory is allocated (a small file cannot claim a huge picture).
/// </summary>
public sealed class ImageLimitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-imglimits-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static void Refused(Func<RgbImage> decode, string expected) => Assert.Contains(expected, Assert.Throws<NextStepException>(() => decode()).Message);

    /// <summary>A PNG signature and an 8-bit RGB IHDR of the given size (valid CRC), then a short, broken IDAT.</summary>
    private static byte[] PngHeader(int width, int height)
    {
        var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        void Chunk(string type, byte[] body)
        {
            Span<byte> n = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(n, body.Length);
            ms.Write(n);
            var typed = Encoding.ASCII.GetBytes(type).Concat(body).ToArray();
            ms.Write(typed);
            BinaryPrimitives.WriteUInt32BigEndian(n, Crc32.HashToUInt32(typed));
            ms.Write(n);
        }
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
        Chunk("IHDR", ihdr);
        Chunk("IDAT", [0x78, 0x9C, 0x03, 0x00]);
        Chunk("IEND", []);
        return ms.ToArray();
    }

    /// <summary>The JPEG seed with its frame header (SOF0) claiming another size.</summary>
    private static byte[] JpegClaiming(int width, int height)
    {
        var jpeg = File.ReadAllBytes(RegressionTests.Data("photo64.jpg"));
        int sof = jpeg.AsSpan().IndexOf(new byte[] { 0xFF, 0xC0 });
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 5), (ushort)height);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 7), (ushort)width);
        return jpeg;
    }

    [Fact]
    public void HeadersClaimingHugeImagesAreRefusedBeforeDecoding()
    {
        Refused(() => ImageIO.Decode(PngHeader(100_000, 1), "wide.png"), "wide.png: image size 100000x1 is outside the supported range (1..8192 per side)");
        Refused(() => ImageIO.Decode(PngHeader(8000, 8000), "bomb.png"), "bomb.png: image size 8000x8000 is 64000000 pixels, over the limit of 40000000 (40 megapixels)");
        Refused(() => ImageIO.Decode(JpegClaiming(65000, 65000), "huge.jpg"), "image size 65000x65000 is outside the supported range");
        Refused(() => ImageIO.Decode(JpegClaiming(7000, 7000), "bomb.jpg"), "bomb.jpg: image size 7000x7000 is 49000000 pixels, over the limit");
    }

    [Fact]
    public void FileSizeIsLimitedBeforeReading()
    {
        var sparse = Path.Combine(_dir, "big.png");
        using (var fs = File.Create(sparse)) fs.SetLength(ImageIO.MaxFileBytes + 1); // sparse: no disk used
        Refused(() => ImageIO.Load(sparse), "big.png: 67108865 bytes is too large for an input image (limit 64 MiB)");
        Refused(() => ImageIO.Decode([], "upload"), "upload: the image data is empty");
    }

    [Fact]
    public void AnImageWithinTheLimitsStillDecodes()
    {
        var img = ImageIO.Decode(File.ReadAllBytes(RegressionTests.Data("photo64.jpg")), "photo64.jpg");
        Assert.Equal((64, 64), (img.Width, img.Height));
    }
}
