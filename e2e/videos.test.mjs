// The Videos tab in the real window. A native file drop cannot be injected through WebDriver, so
// the test calls the same command the drop handler calls (import_videos) and then watches the
// window: progress, the card with its thumbnail and metadata, a bad file's error, details, edit,
// search and removal.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { until } from "selenium-webdriver";
import { launch, find, screenshot, byTestId, createProfile, textOf, choose, run } from "./harness.mjs";

let session;
let media;
before(async () => {
  media = mkdtempSync(path.join(os.tmpdir(), "twitcher-e2e-media-"));
  run("ffmpeg", [
    "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100", "-t", "4", "-shortest",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", path.join(media, "Launch trailer.mp4"),
  ]);
  writeFileSync(path.join(media, "broken.avi"), "this is not a video\n".repeat(200));
  session = await launch();
});
after(async () => {
  await session?.stop();
});

async function importThroughTheDropCommand(driver, paths) {
  const result = await driver.executeAsyncScript(
    (paths, done) => window.__TAURI_INTERNALS__.invoke("import_videos", { paths }).then(done, (e) => done({ failed: e })),
    paths,
  );
  assert.ok(result && !result.failed, JSON.stringify(result));
  return result;
}

test("imported videos appear with thumbnail and metadata; a bad file shows its error", async () => {
  const { driver } = session;
  await createProfile(driver, "Videos E2E");
  await (await find(driver, "tab-videos")).click();
  await find(driver, "videos-empty");
  await screenshot(driver, "30-videos-empty");

  const queued = await importThroughTheDropCommand(driver, [
    path.join(media, "Launch trailer.mp4"),
    path.join(media, "broken.avi"),
  ]);
  assert.equal(queued.job_ids.length, 2);

  const card = await find(driver, "video-card", 30000);
  assert.equal(await textOf(driver, "video-title"), "Launch trailer");
  assert.equal(await textOf(driver, "video-duration"), "0:04");
  assert.match(await textOf(driver, "video-meta"), /^MP4 · 640×360 · \d/);
  const thumb = await find(driver, "video-thumbnail");
  await driver.wait(async () => (await thumb.getAttribute("src")).startsWith("data:image/jpeg;base64,"), 10000);
  assert.ok(await driver.executeScript((img) => img.naturalWidth === 480, thumb), "a 480 px wide thumbnail rendered");
  const failure = await find(driver, "import-error", 30000);
  assert.match(await failure.getText(), /^broken\.avi: not a video Twitcher can play: it may be damaged/);
  await screenshot(driver, "31-videos-imported");

  await card.click();
  const metadata = await (await find(driver, "video-metadata")).getText();
  for (const expected of ["MP4", "0:04", "640×360 at 25 fps", "h264", "aac"]) {
    assert.ok(metadata.includes(expected), `${expected} in ${metadata}`);
  }
  const title = await find(driver, "video-edit-title");
  await title.clear();
  await title.sendKeys("Launch trailer (final)");
  await (await find(driver, "video-save")).click();
  await driver.wait(async () => (await textOf(driver, "video-title")) === "Launch trailer (final)", 10000);
  await screenshot(driver, "32-video-detail");

  // A 4-second clip is not "over 30 min"; it is "under 5 min".
  await choose(driver, "video-length", "long");
  await driver.wait(async () => (await textOf(driver, "video-count")) === "No videos match", 10000);
  await choose(driver, "video-length", "short");
  await driver.wait(async () => (await driver.findElements(byTestId("video-card"))).length === 1, 10000);
  await choose(driver, "video-length", "");

  const search = await find(driver, "video-search");
  await search.sendKeys("no such video");
  await driver.wait(until.elementTextIs(await find(driver, "video-count"), "No videos match"), 10000);
  await search.clear();
  await search.sendKeys("final");
  await driver.wait(async () => (await driver.findElements(byTestId("video-card"))).length === 1, 10000);

  await (await find(driver, "video-remove")).click();
  await (await find(driver, "video-confirm-remove")).click();
  await driver.wait(async () => (await driver.findElements(byTestId("video-remove-dialog"))).length === 0, 10000);
  await driver.wait(async () => (await driver.findElements(byTestId("video-card"))).length === 0, 10000);
  // With the search cleared, the library is empty again.
  await driver.executeScript((el) => {
    el.value = "";
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }, search);
  await find(driver, "videos-empty");
});
