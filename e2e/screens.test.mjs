// Issue 31, the proof a person looks at: every tab at the two window sizes the app is made for
// (1280×800 and its smallest, 1024×640), idle and live, with a library of 200 videos, a
// 200-item playlist and a weekly schedule — and at each, nothing runs off the side and the Go
// live dialog's buttons stay in view. The screenshots land in target/e2e/ as 90-<tab>-<size>-<state>.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launch, find, screenshot, createProfile, byTestId, startIngest, makeVideo, invoke, startLive, until, run, sleep } from "./harness.mjs";

const VIDEOS = 200;
const SIZES = [[1280, 800], [1024, 640]];
const TABS = ["streams", "videos", "playlists", "accounts", "settings"];

let session;
let ingest;

// Titles as a real library has them: numbered, some long enough to need truncating.
const WORDS = ["The long road home", "Q&A", "Speedrun attempts, part two (with commentary)", "Morning coffee", "Finale — remastered director's cut with bonus scenes"];
const titleOf = (i) => `Episode ${String(i + 1).padStart(3, "0")} ${WORDS[i % WORDS.length]}`;

before(async () => {
  ingest = await startIngest();
  const base = path.join(ingest.dir, "base.mp4");
  makeVideo(base);
  // 200 different files (different bytes: the library refuses a copy) from one FFmpeg run.
  const outputs = [];
  for (let i = 0; i < VIDEOS; i++) outputs.push("-map", "0", "-c", "copy", "-metadata", `comment=${i}`, path.join(ingest.dir, `${titleOf(i)}.mp4`));
  run("ffmpeg", ["-v", "error", "-i", base, ...outputs], { timeout: 120000 });
  session = await launch();
});
after(async () => {
  try {
    await session?.stop();
  } finally {
    await ingest?.stop();
  }
});

/** Each tab at each size: no sideways scrolling, and a screenshot. */
async function everyTab(driver, state) {
  const rect = await driver.manage().window().getRect();
  for (const [width, height] of SIZES) {
    await driver.manage().window().setRect({ width, height });
    await until(async () => (await driver.executeScript(() => window.innerWidth)) <= width, `the window at ${width}×${height}`, 5000);
    for (const tab of TABS) {
      await (await find(driver, `tab-${tab}`)).click();
      await sleep(700);
      const overflow = await driver.executeScript(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${tab} at ${width}×${height} (${state}) runs ${overflow} px off the side`);
      await screenshot(driver, `90-${tab}-${width}x${height}-${state}`);
    }
    // The Go live dialog at this size: its buttons in view without scrolling.
    await (await find(driver, "tab-streams")).click();
    await (await find(driver, "go-live")).click();
    const start = await find(driver, "go-live-start");
    await sleep(500);
    const inView = await driver.executeScript((b) => b.getBoundingClientRect().bottom <= window.innerHeight, start);
    assert.ok(inView, `Go live's buttons are in view at ${width}×${height}`);
    await screenshot(driver, `90-go-live-${width}x${height}-${state}`);
    await driver.actions().sendKeys("\uE00C").perform(); // Escape
    await until(async () => (await driver.findElements(byTestId("go-live-dialog"))).length === 0, "the dialog closed", 5000);
  }
  await driver.manage().window().setRect({ width: rect.width, height: rect.height });
}

test("every tab at 1280×800 and 1024×640, idle and live, with 200 videos", async () => {
  const { driver } = session;
  await createProfile(driver, "Two hundred");
  const paths = Array.from({ length: VIDEOS }, (_, i) => path.join(ingest.dir, `${titleOf(i)}.mp4`));
  const queued = await invoke(driver, "import_videos", { paths });
  assert.equal(queued.refused.length, 0, JSON.stringify(queued.refused));
  const total = async () => (await invoke(driver, "list_videos", {
    query: { search: null, format: null, min_duration_sec: null, max_duration_sec: null, min_height: null, max_height: null,
      storage: null, status: null, sort: "title", descending: false, limit: 500, offset: 0 },
  }));
  await until(async () => (await total()).total === VIDEOS, `${VIDEOS} videos imported`, 240000);
  const videos = (await total()).items;

  const accounts = [];
  for (const [name, channel] of [["Main channel", "9001"], ["Second channel (EU)", "9002"]]) {
    accounts.push(await invoke(driver, "add_account", {
      input: { display_name: name, channel_id: channel, login: null, ingest_server: ingest.server },
      streamKey: `live_${channel}_e2eScreensKey`,
    }));
  }
  const playlist = await invoke(driver, "create_playlist", { name: "Every episode, in order" });
  for (const v of videos) {
    await invoke(driver, "add_to_playlist", { id: playlist.id, videoId: v.id, position: null, meta: { title: null, category: null, tags: null } });
  }
  await invoke(driver, "create_schedule", {
    input: {
      request: { video_id: null, playlist_id: playlist.id, account_ids: accounts.map((a) => a.id), title: "Weekend marathon", category: null, tags: [],
        quality: { fps: 30, video_bitrate_k: 800, audio_bitrate_k: 128, width: 640, height: 360 }, loop: true, live_encode: true },
      at: "20:00", time_zone: "Europe/Berlin", days: ["sat", "sun"], duration_sec: 6 * 3600, until: null, twitch_schedule: false,
    },
  });
  // The tabs read their lists when shown: open the Playlists tab once so it has the 200 items.
  await (await find(driver, "tab-playlists")).click();
  await until(async () => (await driver.findElements(byTestId("playlist-item"))).length === VIDEOS, "the 200 items listed", 30000);
  await everyTab(driver, "idle");

  await startLive(driver, { videoId: videos[0].id, accountIds: accounts.map((a) => a.id), title: "Screens live" });
  await (await find(driver, "tab-streams")).click();
  await until(async () => (await invoke(driver, "list_streams", {})).filter((r) => r.status === "live").length === 2, "both channels live", 60000);
  await sleep(3000); // a few seconds of bitrate in the graphs
  await everyTab(driver, "live");

  await (await find(driver, "tab-streams")).click();
  await (await find(driver, "stop-all")).click();
  await (await find(driver, "stop-all-dialog-confirm")).click();
  await until(async () => (await invoke(driver, "list_streams", {})).every((r) => !["live", "starting", "queued", "reconnecting"].includes(r.status)), "stopped", 30000);
});
