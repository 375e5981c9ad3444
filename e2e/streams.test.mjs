// Going live from the window to a real RTMP ingest (nginx-rtmp on loopback): the Go live dialog,
// the destination going live with a bitrate and its health graph, Stop all, the recording nginx
// made, and the broadcast's end as an alert: POSTed to the webhook (a local receiver) and shown
// as a desktop notification (a stand-in notification server on the test's D-Bus).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Key } from "selenium-webdriver";
import { mkdtempSync, readFileSync, statSync, existsSync } from "node:fs";
import os from "node:os";
import http from "node:http";
import path from "node:path";
import { launch, find, screenshot, createProfile, textOf, choose, byTestId, startIngest, makeVideo, invoke, within, tick, sleep, until } from "./harness.mjs";
import { spawnOwned } from "./processes.mjs";

let session;
let nginx;
let dir;
let rtmpPort;
let hook;
const posted = [];
let notifier;
let notified;
const KEY = "live_4242_e2eStreamKeyNotShown";

before(async () => {
  nginx = await startIngest();
  ({ dir, port: rtmpPort } = nginx);
  makeVideo(path.join(dir, "Live show.mp4"));
  // The user's alert webhook.
  hook = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      posted.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => hook.listen(0, "127.0.0.1", resolve));
  // The desktop's notification server.
  notified = path.join(mkdtempSync(path.join(os.tmpdir(), "twitcher-e2e-notify-")), "notified.jsonl");
  const root = path.resolve(import.meta.dirname, "..");
  notifier = spawnOwned(path.join(root, ".venv-test/bin/python"), [path.join(root, "e2e/notifications.py"), notified],
    { stdio: ["ignore", "pipe", "inherit"] }, "notification server");
  await within(new Promise((resolve, reject) => {
    notifier.stdout.on("data", (d) => String(d).includes("ready") && resolve());
    notifier.on("exit", (code) => reject(new Error(`the notification server exited with ${code}`)));
  }), 20000, "the notification server getting ready");
  session = await launch();
});
after(async () => {
  try {
    await session?.stop();
  } finally {
    await nginx?.stop();
    hook?.close();
    await notifier?.unit.end();
  }
});

test("a video goes live to an account from the window and Stop all ends it", async () => {
  const { driver } = session;
  await createProfile(driver, "Live E2E");
  await invoke(driver, "import_videos", { paths: [path.join(dir, "Live show.mp4")] });
  await invoke(driver, "add_account", {
    input: { display_name: "Main", channel_id: "4242", login: null, ingest_server: `rtmp://127.0.0.1:${rtmpPort}/app` },
    streamKey: KEY,
  });
  // The key checks out with the ingest (Twitch's bandwidth test), from the Accounts tab.
  // Alerts go to the webhook set in Settings.
  await (await find(driver, "tab-settings")).click();
  const webhook = await find(driver, "alerts-webhook");
  await webhook.clear();
  await webhook.sendKeys(`http://127.0.0.1:${hook.address().port}/alerts`);
  await (await find(driver, "alerts-save")).click();
  await find(driver, "alerts-saved");
  await (await find(driver, "tab-accounts")).click();
  await (await find(driver, "test-key")).click();
  await driver.wait(async () => (await textOf(driver, "key-check")).startsWith("Key accepted"), 15000);
  // Wait for the import to land before opening the dialog.
  await (await find(driver, "tab-videos")).click();
  await find(driver, "video-card", 30000);

  // Ctrl+L from the Videos tab: the Streams tab, with the Go live dialog open.
  await driver.actions().keyDown(Key.CONTROL).sendKeys("l").keyUp(Key.CONTROL).perform();
  await find(driver, "go-live-dialog");
  await driver.wait(async () => (await driver.findElements(byTestId("go-live-account"))).length === 1, 10000);
  await tick(driver, "go-live-account");
  await choose(driver, "go-live-preset", "480p30");
  await driver.executeScript(() => {
    const loop = [...document.querySelectorAll("input[type=checkbox]")].find((c) => c.parentElement.textContent.includes("Loop"));
    if (!loop.checked) loop.click();
  });
  await (await find(driver, "go-live-title")).sendKeys("E2E live");
  // Fields are checked as they are typed, each mistake beside its field, and nothing starts.
  const streamsBefore = (await invoke(driver, "list_streams", {})).length;
  // Typed as a person does: click the field, select what is there, type over it.
  const typeInto = async (id, text) => {
    await (await find(driver, id)).click();
    await driver.actions().keyDown(Key.CONTROL).sendKeys("a").keyUp(Key.CONTROL).sendKeys(text).perform();
  };
  await typeInto("go-live-tags", "English, has space");
  assert.equal(await textOf(driver, "go-live-tags-problem"), "“has space” is not a tag Twitch takes: 1 to 25 letters or digits, no spaces.");
  await typeInto("go-live-bitrate", "9000");
  assert.equal(await textOf(driver, "go-live-quality-problem"), "Video bitrate: 300 to 6000 kbps (Twitch's most is 6000).");
  await screenshot(driver, "50a-go-live-fields-checked");
  await (await find(driver, "go-live-start")).click();
  await sleep(500);
  assert.equal((await driver.findElements(byTestId("go-live-dialog"))).length, 1, "the dialog stays");
  assert.equal((await invoke(driver, "list_streams", {})).length, streamsBefore, "nothing started");
  await typeInto("go-live-tags", "English");
  await choose(driver, "go-live-preset", "480p30");
  await until(async () => (await driver.findElements(byTestId("go-live-quality-problem"))).length === 0, "the preset's bitrate is fine", 5000);
  await screenshot(driver, "50-go-live");
  await (await find(driver, "go-live-start")).click();

  await driver.wait(async () => (await driver.findElements(byTestId("destination-row"))).length === 1, 60000, "a destination row");
  await driver.wait(async () => (await textOf(driver, "destination-state")) === "live", 30000, "live");
  await driver.wait(async () => parseInt(await textOf(driver, "destination-bitrate"), 10) > 100, 15000, "a bitrate");
  // A few seconds of bitrate on the destination's five-minute graph.
  await driver.wait(async () => (await driver.executeScript(() => document.querySelector('[data-testid="health-graph"] polyline')?.getAttribute("points")?.split(" ").length ?? 0)) >= 3, 10000, "a health graph");
  // The source's pace against the wall clock is said only when it matters (over 2 s), in words.
  for (const drift of await driver.findElements(byTestId("source-drift"))) {
    assert.match(await drift.getText(), /^· the source runs \d+\.\d s (behind|ahead)$/);
  }
  await screenshot(driver, "51-live");
  assert.ok(!(await driver.getPageSource()).includes("e2eStreamKeyNotShown"));

  await (await find(driver, "stop-all")).click();
  // It asks first; nothing stops before the answer.
  await find(driver, "stop-all-dialog");
  assert.equal(await textOf(driver, "destination-state"), "live");
  await (await find(driver, "stop-all-dialog-confirm")).click();
  await find(driver, "streams-empty", 20000);
  await driver.wait(async () => (await textOf(driver, "past-streams")).includes("ended"), 10000);
  await driver.wait(async () => posted.some((p) => p.event === "broadcast_ended"), 10000, "the webhook heard the end");
  const ended = posted.find((p) => p.event === "broadcast_ended");
  assert.equal(ended.title, "E2E live");
  assert.equal(ended.destinations, 1);
  assert.ok(!JSON.stringify(posted).includes("e2eStreamKeyNotShown"));
  // The same end, as a desktop notification.
  const notes = () => (existsSync(notified) ? readFileSync(notified, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : []);
  await driver.wait(async () => notes().some((n) => n.summary === "Broadcast ended"), 10000, "a desktop notification");
  assert.match(notes().find((n) => n.summary === "Broadcast ended").body, /“E2E live” ended on 1 channel/);
  await screenshot(driver, "52-stopped");
  const recording = path.join(dir, "records", `${KEY}.flv`);
  assert.ok(existsSync(recording) && statSync(recording).size > 50000, "nginx recorded the stream");
});

test("a broadcast scheduled for later shows its time and can be cancelled", async () => {
  const { driver } = session;
  await (await find(driver, "go-live")).click();
  await driver.wait(async () => (await driver.findElements(byTestId("go-live-account"))).length === 1, 10000);
  // The dialog starts where the last Go live ended: its channel ticked, its quality, its loop.
  assert.ok(await (await find(driver, "go-live-account")).isSelected(), "the last channel is remembered");
  assert.equal(await (await find(driver, "go-live-preset")).getAttribute("value"), "480p30");
  // "At" holds a real time (the next whole hour) before anything is typed.
  assert.match(await (await find(driver, "go-live-at")).getAttribute("value"), /^\d{4}-\d\d-\d\dT\d\d:00$/);
  await (await find(driver, "go-live-later")).click();
  // A month ahead (a broadcast is scheduled at most a year ahead), in the field's local form.
  const later = new Date(Date.now() + 30 * 86400000);
  const pad = (n) => String(n).padStart(2, "0");
  const local = `${later.getFullYear()}-${pad(later.getMonth() + 1)}-${pad(later.getDate())}T20:00`;
  await driver.executeScript((el, value) => {
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }, await find(driver, "go-live-at"), local);
  await (await find(driver, "go-live-start")).click();
  // Booked for later, it is under Up next with its time and how far off it is — not drawn as a
  // live broadcast with a graph and a Stop.
  await find(driver, "up-next-item", 10000);
  const when = await textOf(driver, "scheduled-at");
  assert.match(when, new RegExp(String(later.getFullYear())));
  assert.match(when, / · in \d+ days$/);
  assert.equal((await driver.findElements(byTestId("broadcast-card"))).length, 0, "a booked broadcast is not on air");
  await find(driver, "streams-empty");
  await screenshot(driver, "53-scheduled");
  await (await find(driver, "cancel-scheduled")).click();
  await (await find(driver, "cancel-scheduled-dialog-confirm")).click();
  await driver.wait(async () => (await driver.findElements(byTestId("up-next"))).length === 0, 10000, "Up next empty once cancelled");
});

test("the window refuses a start time that is not RFC 3339 with an offset, or is past, and stores nothing", async () => {
  const { driver } = session;
  const video = (await invoke(driver, "list_videos", { query: {} })).items[0];
  const [account] = await invoke(driver, "list_accounts", {});
  const before = (await invoke(driver, "list_streams", {})).length;
  const request = {
    video_id: video.id, account_ids: [account.id], title: "Never", category: null, tags: [],
    quality: { fps: 30, video_bitrate_k: 800, audio_bitrate_k: 128, width: 640, height: 360 }, loop: false, live_encode: false,
  };
  for (const at of ["tonight at eight", "2030-01-01T20:00:00", "2020-01-01T20:00:00Z"]) {
    await assert.rejects(invoke(driver, "schedule_broadcast", { request, at }), /"code":"invalid_input"/, at);
  }
  assert.equal((await invoke(driver, "list_streams", {})).length, before, "nothing was stored");
});
