// Dropping files onto the window, as the OS does it: a GTK drag source (e2e/drag-source.py, like a
// file manager offering text/uri-list) is pressed on, dragged into the app's window and released
// by xdotool under Xvfb — no command called on the app's behalf. Three files, one of them not a
// video: the two videos are imported, the bad one shows its error.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { launch, find, screenshot, byTestId, createProfile, run, sleep, until, makeVideo } from "./harness.mjs";
import { spawnOwned } from "./processes.mjs";

const xdotool = (...args) => run("xdotool", args, { timeout: 20000 }).trim();
let session;
let media;
let source;

before(async () => {
  media = mkdtempSync(path.join(os.tmpdir(), "twitcher-e2e-drop-"));
  makeVideo(path.join(media, "Opening night.mp4"));
  // Other pictures: the library knows a file by its content.
  run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=550",
    "-t", "3", "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", path.join(media, "Encore.mp4")]);
  writeFileSync(path.join(media, "notes.avi"), "these are notes, not a video\n".repeat(100));
  session = await launch();
});
after(async () => {
  try {
    await session?.stop();
  } finally {
    await source?.unit.end();
  }
});

/** The app window's top-left corner and size on screen. */
function appWindow() {
  const id = xdotool("search", "--name", "^Twitcher$").split("\n")[0];
  const geometry = xdotool("getwindowgeometry", id);
  const [, x, y] = geometry.match(/Position: (\d+),(\d+)/).map(Number);
  const [, w, h] = geometry.match(/Geometry: (\d+)x(\d+)/).map(Number);
  return { x, y, w, h };
}

test("three files dropped on the window from the OS: the two videos import, the bad one says why", async () => {
  const { driver } = session;
  await createProfile(driver, "Drop E2E");
  await (await find(driver, "tab-videos")).click();
  await find(driver, "videos-empty");

  // Without a window manager windows open where asked: the source beside the app, not over it.
  const win = appWindow();
  const [sx, sy] = [Math.min(win.x + win.w + 20, 1280 - 130), 60];
  const files = ["Opening night.mp4", "Encore.mp4", "notes.avi"].map((f) => path.join(media, f));
  source = spawnOwned("/usr/bin/python3", ["e2e/drag-source.py", String(sx), String(sy), ...files], { stdio: ["ignore", "pipe", "inherit"] }, "drag source");
  await new Promise((resolve, reject) => {
    source.stdout.on("data", (d) => String(d).includes("ready") && resolve());
    source.on("exit", (code) => reject(new Error(`the drag source exited (${code})`)));
  });
  await sleep(500);

  // Press on the source, move in steps (GTK starts a drag after a few pixels), release over the app.
  xdotool("mousemove", String(sx + 60), String(sy + 60), "mousedown", "1");
  const [tx, ty] = [win.x + Math.floor(win.w / 2), win.y + Math.floor(win.h / 2)];
  for (let i = 1; i <= 12; i++) {
    const x = Math.round(sx + 60 + ((tx - sx - 60) * i) / 12);
    const y = Math.round(sy + 60 + ((ty - sy - 60) * i) / 12);
    xdotool("mousemove", String(x), String(y));
    await sleep(80);
  }
  await sleep(300);
  xdotool("mouseup", "1");

  await until(async () => (await driver.findElements(byTestId("video-card"))).length === 2, "the two dropped videos in the library", 60000);
  const titles = () => driver.executeScript(() => [...document.querySelectorAll('[data-testid="video-title"]')].map((t) => t.textContent.trim()).sort());
  await until(async () => JSON.stringify(await titles()) === JSON.stringify(["Encore", "Opening night"]), "the dropped videos' titles", 30000)
    .catch(async (e) => assert.fail(`${e.message}: ${JSON.stringify(await titles())}`));
  const failure = await find(driver, "import-error", 30000);
  assert.match(await failure.getText(), /^notes\.avi: not a video Twitcher can play: it may be damaged/);
  await screenshot(driver, "34-videos-dropped-from-the-os");
});
