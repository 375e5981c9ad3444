// The system tray under Xvfb, with trayer as the tray host and xdotool as the hand: while a
// broadcast is live, closing the window hides it to the tray and the stream goes on; a second
// launch shows the running one instead of starting another; the tray menu shows the window again;
// its "Stop all…" asks first, then ends every stream.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { app, launch, find, screenshot, createProfile, textOf, startIngest, makeVideo, invoke, startLive, shotsDir, until, sleep, run, x11, within } from "./harness.mjs";
import { spawnOwned } from "./processes.mjs";

let session;
let ingest;
let trayer;
const KEY = "live_5151_e2eTrayKeyNotShown";

const xdotool = (...args) => run("xdotool", args, { timeout: 20000 }).trim();

/** The tray icon's centre on screen, from the window trayer embedded it in. */
function trayIconCentre() {
  const id = xdotool("search", "--class", "tray-icon tray app twitcher").split("\n")[0];
  const geometry = xdotool("getwindowgeometry", id);
  const [, x, y] = geometry.match(/Position: (\d+),(\d+)/);
  const [, w, h] = geometry.match(/Geometry: (\d+)x(\d+)/);
  return [Number(x) + Math.floor(Number(w) / 2), Number(y) + Math.floor(Number(h) / 2)];
}

/** Opens the tray menu and picks the entry `downs` steps below the top (disabled ones are skipped). */
async function pickFromTray(downs) {
  const [x, y] = trayIconCentre();
  xdotool("mousemove", String(x), String(y), "click", "1");
  await sleep(800);
  for (let i = 0; i < downs; i++) {
    xdotool("key", "Down");
    await sleep(150);
  }
  xdotool("key", "Return");
}

/**
 * Asks the window to close as a window manager's close button does, and waits until it is no
 * longer mapped. Once in CI (1 run of about 30; never in 21 runs here, with or without three CPU
 * hogs) a first request was not acted on for 15 s; like a person who clicks the close button again,
 * the request is repeated every 5 s, four times at most, and each repeat is printed so a pattern
 * shows. An app that quit instead of hiding fails the checks that follow (it answers nothing).
 */
async function closeToTray(what) {
  for (let attempt = 1; ; attempt++) {
    x11("close", "Twitcher");
    try {
      return await until(() => x11("visible", "Twitcher") === "no", what, 5000);
    } catch (e) {
      if (attempt === 4) throw e;
      console.error(`the window was still shown 5 s after close request ${attempt}: asking again`);
    }
  }
}

function rootShot(name) {
  run("ffmpeg", ["-v", "error", "-y", "-f", "x11grab", "-video_size", "1280x800", "-i", process.env.DISPLAY, "-frames:v", "1", path.join(shotsDir, `${name}.png`)]);
}

before(async () => {
  ingest = await startIngest();
  makeVideo(path.join(ingest.dir, "Tray show.mp4"));
  trayer = spawnOwned("trayer", ["--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32", "--SetDockType", "true", "--transparent", "false", "--tint", "0x333333"], { stdio: "ignore" }, "trayer");
  await until(() => xdotool("search", "--class", "trayer").split("\n").length >= 2, "trayer's panel");
  session = await launch();
});
after(async () => {
  try {
    await session?.stop();
  } finally {
    await ingest?.stop();
    await trayer?.unit.end();
  }
});

test("closing the window while live hides it to the tray, and the tray's Stop all asks then ends the streams", async () => {
  const { driver } = session;
  await createProfile(driver, "Tray E2E");
  await invoke(driver, "import_videos", { paths: [path.join(ingest.dir, "Tray show.mp4")] });
  const account = await invoke(driver, "add_account", {
    input: { display_name: "Tray channel", channel_id: "5151", login: null, ingest_server: ingest.server },
    streamKey: KEY,
  });
  const video = await until(async () => {
    const page = await invoke(driver, "list_videos", { query: {} });
    return page.items.find((v) => v.status === "ready");
  }, "the import");
  const started = await startLive(driver, { videoId: video.id, accountIds: [account.id], title: "Tray night" });
  assert.equal(started.stream_ids.length, 1);
  await (await find(driver, "tab-streams")).click();
  await driver.wait(async () => (await textOf(driver, "destination-state")) === "live", 30000, "live");

  // The tray icon is there, with the live dot.
  await until(() => trayIconCentre(), "the tray icon");
  rootShot("60-tray-live");

  // Closing the window hides it; the broadcast goes on.
  await closeToTray("the window hidden");
  await sleep(1500);
  const states = await invoke(driver, "list_streams", {});
  assert.equal(states[0].status, "live", "still live with the window closed");

  // Launching Twitcher again while it runs in the tray: the second copy hands over and exits,
  // and the first shows its window.
  const second = spawnOwned(app, [], { stdio: "ignore" }, "second launch");
  const exited = await within(new Promise((resolve) => second.on("exit", (code) => resolve(code))), 15000, "the second launch exiting")
    .catch((e) => e.message)
    .finally(() => second.unit.end());
  assert.equal(exited, 0, "the second launch exits");
  await until(() => x11("visible", "Twitcher") === "yes", "the window shown by the second launch");
  await closeToTray("hidden again");

  // Tray → Show window (menu: header [disabled], Stop “Tray night”, Start next [disabled], Stop all…, Show window, Quit).
  await pickFromTray(3);
  await until(() => x11("visible", "Twitcher") === "yes", "the window shown again");

  // Tray → Stop all…: a confirmation first, then every stream ends.
  await pickFromTray(2);
  const dialog = await until(() => xdotool("search", "--name", "^Stop all$").split("\n")[0], "the confirmation");
  await sleep(500);
  rootShot("61-tray-stop-all-confirm");
  assert.equal((await invoke(driver, "list_streams", {}))[0].status, "live", "nothing stops before the answer");
  // Its buttons: [Stop all | Keep streaming] along the bottom edge (there is no window manager to
  // give it keyboard focus, so click).
  const geometry = xdotool("getwindowgeometry", dialog);
  const [, dx, dy] = geometry.match(/Position: (\d+),(\d+)/).map(Number);
  const [, dw, dh] = geometry.match(/Geometry: (\d+)x(\d+)/).map(Number);
  xdotool("mousemove", String(dx + Math.floor(dw / 4)), String(dy + dh - 17), "click", "1");
  await until(async () => (await invoke(driver, "list_streams", {}))[0].status === "ended", "the broadcast ended", 20000);
  await find(driver, "streams-empty", 20000);
  await screenshot(driver, "62-after-tray-stop-all");
  assert.ok(!(await driver.getPageSource()).includes("e2eTrayKeyNotShown"));

  // Tray → Start “…” now: the next scheduled broadcast goes live at once instead of in an hour.
  // (Menu: header [disabled], Start “Tray later” now, Stop all… [disabled], Show window, Quit.)
  const scheduled = await invoke(driver, "schedule_broadcast", {
    request: {
      video_id: video.id, account_ids: [account.id], title: "Tray later", category: null, tags: [],
      quality: { fps: 30, video_bitrate_k: 800, audio_bitrate_k: 128, width: 640, height: 360 }, loop: true, live_encode: true,
    },
    at: new Date(Date.now() + 3600_000).toISOString(),
  });
  await sleep(1500); // the menu is rebuilt on the schedule's event
  await pickFromTray(1);
  const row = async () => (await invoke(driver, "list_streams", {})).find((s) => s.broadcast_id === scheduled);
  await until(async () => (await row())?.status === "live", "the scheduled broadcast live now, not in an hour", 30000);
  await (await find(driver, "tab-streams")).click();
  await driver.wait(async () => (await textOf(driver, "destination-state")) === "live", 20000, "shown live");
  rootShot("63-tray-started-next-scheduled");
  await invoke(driver, "stop_broadcast", { broadcastId: scheduled });
  await until(async () => (await row())?.status === "ended", "the started broadcast ended", 20000);
});
