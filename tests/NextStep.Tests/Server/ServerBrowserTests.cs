using Microsoft.Playwright;
using NextStep.Server.Generation;
using Xunit;
using Xunit.Abstractions;

namespace NextStep.Tests.Server;

/// <summary>The web UI in Debian's headless Chromium, driven by Playwright: generate, watch progress, find it in history after a reload.</summary>
public sealed class ServerBrowserTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task Ui_generates_shows_progress_and_keeps_the_result_in_history()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} not found: run scripts/setup.sh (installs Debian's 'chromium')");
        await using var server = await RunningServer.Start(generator: new FakeImageGenerator(TimeSpan.FromSeconds(3)));
        using var pw = await Playwright.CreateAsync();
        await using var browser = await pw.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1200, Height = 900 } });
        await page.GotoAsync(server.Url);
        await Assertions.Expect(page.Locator("#model")).ToHaveTextAsync("nextstep-fake");

        await page.FillAsync("#prompt", "a lighthouse on a cliff at dusk");
        await page.FillAsync("#negative", "blurry");
        await page.SelectOptionAsync("#size", "256x256");
        await page.SelectOptionAsync("#preset", "fast");
        Assert.False(await page.IsCheckedAsync("#use-norm"));
        await page.CheckAsync("#seed-lock");
        await page.FillAsync("#seed", "1234");
        await page.FillAsync("#cfg", "5");
        await page.FillAsync("#steps", "30");
        await page.FillAsync("#shift", "1.5");
        await page.FillAsync("#candidates", "3");
        await page.ClickAsync("#generate");

        var seen = new SortedSet<double>();
        for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline && seen.Count < 3;)
        {
            var (value, max) = (await page.EvalOnSelectorAsync<double>("#progress", "p => p.value"), await page.EvalOnSelectorAsync<double>("#progress", "p => p.max"));
            if (value > 0 && value < max) seen.Add(value);
            await Task.Delay(100);
        }
        Assert.True(seen.Count >= 3, $"the progress bar should move through several values, saw {string.Join(", ", seen)}");
        await Assertions.Expect(page.Locator("#progress-text")).ToContainTextAsync("tokens");

        var card = page.Locator(".card", new PageLocatorOptions { HasText = "a lighthouse on a cliff at dusk" });
        await Assertions.Expect(card.Locator(".state")).ToHaveTextAsync("succeeded", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });
        await Assertions.Expect(page.Locator("#progress-text")).ToHaveTextAsync("succeeded: 256 / 256 tokens");
        var img = card.Locator("img");
        await Assertions.Expect(img).ToBeVisibleAsync();
        Assert.Equal(256, await img.EvaluateAsync<int>("i => i.complete ? i.naturalWidth : 0"));
        await Assertions.Expect(card.Locator(".params")).ToContainTextAsync("seed 1234 · fast · cfg 5 · 30 steps · shift 1.5 · best of 3 · negative: blurry");
        await Assertions.Expect(card.Locator("a.download")).ToHaveAttributeAsync("download", new System.Text.RegularExpressions.Regex(@"^[0-9a-f]{32}-0\.png$"));

        var shot = Path.Combine(ArtifactDir(), "server-ui.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
        output.WriteLine($"screenshot: {shot}");

        await page.ReloadAsync();
        var again = page.Locator(".card", new PageLocatorOptions { HasText = "a lighthouse on a cliff at dusk" });
        await Assertions.Expect(again.Locator("img")).ToBeVisibleAsync();
        await Assertions.Expect(again.Locator(".state")).ToHaveTextAsync("succeeded");

        await page.FillAsync("#prompt", "add a red hat");
        await page.SetInputFilesAsync("#image", new FilePayload { Name = "input.png", MimeType = "image/png", Buffer = FakeImageGenerator.Draw(64, 64, 9).Png });
        Assert.Equal("edit", await page.InputValueAsync("#preset"));
        await page.FillAsync("#cfg-img", "1.8"); // best of 3 is still filled in: the form leaves it out of an edit, which the API would refuse
        await page.ClickAsync("#generate");
        var edit = page.Locator(".card", new PageLocatorOptions { HasText = "add a red hat" });
        await Assertions.Expect(edit.Locator(".state")).ToHaveTextAsync("succeeded", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });
        await Assertions.Expect(edit.Locator(".params")).ToContainTextAsync("edit · 512x512");
        await Assertions.Expect(edit.Locator(".params")).ToContainTextAsync("/ img 1.8");
        await Assertions.Expect(edit.Locator("img")).ToBeVisibleAsync();
    }

    /// <summary>TestResults/ at the repository root (ignored by git).</summary>
    private static string ArtifactDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NextStep.sln"))) dir = dir.Parent;
        var path = Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "TestResults");
        Directory.CreateDirectory(path);
        return path;
    }
}
