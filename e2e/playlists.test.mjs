// The Playlists tab in the real window: a playlist made from the library, reordered by dragging,
// and taken live from the Go live dialog to a real RTMP ingest (nginx-rtmp), where the broadcast
// card shows what is playing and what comes next.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { By } from "selenium-webdriver";
import { launch, find, screenshot, createProfile, textOf, choose, pick, byTestId, startIngest, invoke, run, until, tick } from "./harness.mjs";

let session;
let nginx;
const KEY = "live_5151_e2ePlaylistKey";
const CLIPS = [["Opening", 0], ["Interview", 120], ["Closing", 240]];

before(async () => {
  nginx = await startIngest();
  for (const [name, hue] of CLIPS) {
    // 3 s each, a colour of their own (the library refuses the same content twice).
    run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine",
      "-t", "3", "-shortest", "-vf", `hue=h=${hue}`, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
      path.join(nginx.dir, `${name}.mp4`)]);
  }
  session = await launch();
});
after(async () => {
  try {
    await session?.stop();
  } finally {
    await nginx?.stop();
  }
});

const titles = async (driver) =>
  Promise.all((await driver.findElements(byTestId("playlist-item-title"))).map((e) => driver.executeScript((el) => el.textContent.trim(), e)));

/** HTML5 drag and drop as the page sees it (WebDriver's pointer actions do not start a native drag in WebKitGTK). */
async function drag(driver, from, to) {
  await driver.executeScript((from, to) => {
    const data = new DataTransfer();
    const fire = (el, type) => el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
    fire(from, "dragstart");
    fire(to, "dragover");
    fire(to, "drop");
    fire(from, "dragend");
  }, from, to);
}

test("a playlist is built from the library, reordered by dragging and goes live with now playing", async () => {
  const { driver } = session;
  await createProfile(driver, "Playlists E2E");
  await invoke(driver, "import_videos", { paths: CLIPS.map(([name]) => path.join(nginx.dir, `${name}.mp4`)) });
  await invoke(driver, "add_account", {
    input: { display_name: "Main", channel_id: "5151", login: null, ingest_server: nginx.server },
    streamKey: KEY,
  });
  await until(async () => (await invoke(driver, "list_videos", {
    query: { search: null, format: null, min_duration_sec: null, max_duration_sec: null, min_height: null, max_height: null,
      storage: null, status: null, sort: "title", descending: false, limit: 10, offset: 0 },
  })).total === 3, "the three imports", 60000);

  await (await find(driver, "tab-playlists")).click();
  await (await find(driver, "playlist-new-name")).sendKeys("Night shift");
  await (await find(driver, "playlist-create")).click();
  assert.equal(await textOf(driver, "playlist-name"), "Night shift");
  // The library is sorted by title: Closing, Interview, Opening. Opening by its own Add; then the
  // other two found by search, ticked in the playlist's order (Interview, then Closing), added at once.
  const byTitle = {};
  for (const [name] of CLIPS) byTitle[name] = await driver.findElement(By.css(`[data-testid="library-video"][data-title="${name}"]`));
  await (await byTitle.Opening.findElement(byTestId("library-add"))).click();
  await until(async () => (await titles(driver)).includes("Opening"), "Opening added", 5000);
  const search = await find(driver, "library-search");
  const tickFound = async (words, title) => {
    await search.clear();
    await search.sendKeys(words);
    await until(async () => (await textOf(driver, "library-count")) === "1 of 3", `only ${title} found for "${words}"`, 5000);
    await (await driver.findElement(By.css(`[data-testid="library-video"][data-title="${title}"] [data-testid="library-tick"]`))).click();
  };
  await tickFound("VIEW", "Interview");
  await tickFound("clos", "Closing");
  assert.equal(await textOf(driver, "library-add-chosen"), "Add 2");
  await (await find(driver, "library-add-chosen")).click();
  await until(async () => (await titles(driver)).length === 3, "the two ticked videos added", 10000);
  await search.clear();
  await search.sendKeys(" ");
  await until(async () => (await textOf(driver, "library-count")) === "3 videos", "the search cleared", 5000);
  for (const [name] of CLIPS) byTitle[name] = await driver.findElement(By.css(`[data-testid="library-video"][data-title="${name}"]`));
  assert.deepEqual(await titles(driver), ["Opening", "Interview", "Closing"]);
  assert.match(await textOf(driver, "playlist-total"), /^3 items · 0:09$/);

  // Drag "Closing" onto the first item: it becomes first.
  let items = await driver.findElements(byTestId("playlist-item"));
  await drag(driver, items[2], items[0]);
  await until(async () => (await titles(driver))[0] === "Closing", "the dragged item moved first", 5000);
  assert.deepEqual(await titles(driver), ["Closing", "Opening", "Interview"]);
  // And a library video dragged onto the second slot is inserted there.
  items = await driver.findElements(byTestId("playlist-item"));
  await drag(driver, byTitle.Interview, items[1]);
  await until(async () => (await titles(driver)).length === 4, "the dropped video added", 5000);
  assert.deepEqual(await titles(driver), ["Closing", "Interview", "Opening", "Interview"]);
  await (await find(driver, "playlist-loop")).click();
  await until(async () => (await find(driver, "playlist-loop")).isSelected(), "Loop ticked", 5000);
  // The slate: what plays in place of an item that cannot.
  const opening = (await invoke(driver, "list_playlists", {}))[0].items.find((i) => i.video_title === "Opening").video_id;
  await pick(driver, "playlist-slate", "open", opening);
  await until(async () => (await invoke(driver, "list_playlists", {}))[0].slate_video_id === opening, "the slate saved", 5000);
  // The order is the core's, not only the page's: a reload shows the same.
  const saved = await invoke(driver, "list_playlists", {});
  assert.deepEqual(saved[0].items.map((i) => i.video_title), ["Closing", "Interview", "Opening", "Interview"]);
  assert.equal(saved[0].loop, true);
  await screenshot(driver, "70-playlists");

  // Go live with it.
  await (await find(driver, "tab-streams")).click();
  await (await find(driver, "go-live")).click();
  await find(driver, "go-live-dialog");
  await (await find(driver, "go-live-plays-playlist")).click();
  await pick(driver, "go-live-playlist", "night", saved[0].id);
  // One loop control: the playlist loops (set above), so the dialog's box says so and is fixed.
  assert.ok(await (await find(driver, "go-live-loop")).isSelected(), "a looping playlist's Go live shows Loop ticked");
  assert.ok(!(await (await find(driver, "go-live-loop")).isEnabled()), "and not as a second control");
  await tick(driver, "go-live-account");
  await choose(driver, "go-live-preset", "480p30");
  await (await find(driver, "go-live-start")).click();
  // Go live never waits for the preparation: the dialog closes, and the tab shows the items being
  // prepared and the broadcast's channel waiting for them (it used to hold the whole window).
  await until(async () => (await driver.findElements(byTestId("go-live-dialog"))).length === 0, "the dialog closed", 5000);
  await find(driver, "preparing", 10000);
  await find(driver, "broadcast-card", 10000);
  await screenshot(driver, "70b-playlist-preparing");
  await until(async () => (await textOf(driver, "now-playing")).startsWith("▶ Closing"), "now playing: the first item", 120000);
  assert.match(await textOf(driver, "now-playing"), /up next: Interview/);
  await until(async () => (await textOf(driver, "now-playing")).startsWith("▶ Interview"), "the second item follows", 15000);
  await screenshot(driver, "71-playlist-live");
  await (await find(driver, "stop-broadcast")).click();
  // It asks first (the safe answer focused); the broadcast stops on the red button.
  await (await find(driver, "stop-broadcast-dialog-confirm")).click();
  // Counted in the page: element handles can go stale while the card is being removed.
  await until(async () => (await driver.executeScript(() => document.querySelectorAll('[data-testid="broadcast-card"]').length)) === 0, "the broadcast ended", 20000);

  const recording = path.join(nginx.dir, "records", `${KEY}.flv`);
  assert.ok(existsSync(recording) && statSync(recording).size > 100_000, "nginx recorded the playlist");
});

test("a weekly schedule is made in the Go live dialog and lists its next seven starts", async () => {
  const { driver } = session;
  // The dialog scrolls: bring each field to the middle of it before using it.
  const near = async (id) => {
    const el = await find(driver, id);
    await driver.executeScript((e) => e.scrollIntoView({ block: "center" }), el);
    return el;
  };
  const step = async (what, action) => {
    try {
      return await action();
    } catch (e) {
      await screenshot(driver, "72-recurring-schedule-failed");
      throw new Error(`${what}: ${e.name} ${e.message}`);
    }
  };
  await (await find(driver, "tab-streams")).click();
  await (await find(driver, "go-live")).click();
  await find(driver, "go-live-dialog");
  // Remembered from the last Go live.
  await step("go-live-account", async () => assert.ok(await (await find(driver, "go-live-account")).isSelected(), "the last channel is remembered"));
  await step("go-live-title", async () => (await find(driver, "go-live-title")).sendKeys("Late show"));
  await step("go-live-recurring", async () => (await near("go-live-recurring")).click());
  await step("repeat-mon", async () => (await near("repeat-mon")).click());
  await step("repeat-wed", async () => (await near("repeat-wed")).click());
  assert.ok(await (await near("repeat-mon")).isSelected() && await (await near("repeat-wed")).isSelected(), "Monday and Wednesday ticked");
  await driver.executeScript((el) => { el.value = "20:00"; el.dispatchEvent(new Event("input", { bubbles: true })); }, await near("repeat-at"));
  await step("repeat-zone", () => pick(driver, "repeat-zone", "berlin", "Europe/Berlin"));
  await step("repeat-hours", async () => (await near("repeat-hours")).sendKeys("2"));
  await step("repeat-twitch-schedule", async () => (await near("repeat-twitch-schedule")).click());
  await (await near("go-live-start")).click();
  await find(driver, "schedule-card", 15000);
  await until(async () => (await driver.findElements(byTestId("go-live-dialog"))).length === 0, "the dialog closed", 5000);
  // What, where and when, in the schedule's own zone (20:00 in Berlin; the clock's habit, 12 h here).
  assert.equal(await textOf(driver, "schedule-what"), "Late show");
  assert.equal(await textOf(driver, "schedule-where"), "to Main");
  assert.match(await textOf(driver, "schedule-when"), /^Mon, Wed at (20:00|08:00 PM) Europe\/Berlin, for 2 h$/);
  for (const start of await driver.findElements(By.css('[data-testid="schedule-next"] li'))) {
    assert.match(await start.getText(), /(20:00|08:00 PM)$/, "every start in Berlin's time, as the line above");
  }
  const starts = await driver.findElements(By.css('[data-testid="schedule-next"] li'));
  assert.equal(starts.length, 7);
  // Asked for the Twitch schedule with an account added by hand: the card says why it is not there.
  assert.match(await textOf(driver, "schedule-on-twitch"), /^Main: not on the Twitch schedule: this account was added by hand/);
  const saved = await invoke(driver, "list_schedules", {});
  assert.equal(saved.length, 1);
  for (const start of saved[0].next) {
    assert.match(start, /T1[89]:00:00\.000Z$/, "20:00 in Berlin, in UTC");
    assert.ok([1, 3].includes(new Date(start).getUTCDay()), `${start} is a Monday or a Wednesday`);
  }
  await screenshot(driver, "72-recurring-schedule");

  // Paused from its card: it says so, lists no next start, and the core has it paused; resumed,
  // the seven starts are back.
  await (await find(driver, "schedule-pause")).click();
  await find(driver, "schedule-paused");
  assert.equal((await driver.findElements(By.css('[data-testid="schedule-next"] li'))).length, 0);
  assert.equal((await invoke(driver, "list_schedules", {}))[0].paused, true);
  await screenshot(driver, "72b-schedule-paused");
  await (await find(driver, "schedule-resume")).click();
  await until(async () => (await driver.findElements(By.css('[data-testid="schedule-next"] li'))).length === 7, "resumed: seven starts again", 5000);

  // Edited from its card: the dialog opens filled from the schedule (Berlin, 20:00, Mon and Wed,
  // 2 h), and a new time and zone picked in it are what the card then says.
  await (await find(driver, "schedule-edit")).click();
  await find(driver, "go-live-dialog");
  assert.equal(await textOf(driver, "go-live-dialog-title"), "Edit schedule");
  assert.equal(await (await find(driver, "repeat-zone")).getAttribute("data-value"), "Europe/Berlin");
  assert.ok(await (await near("repeat-mon")).isSelected() && await (await near("repeat-wed")).isSelected(), "its days");
  assert.equal(await (await near("repeat-hours")).getAttribute("value"), "2");
  await driver.executeScript((el) => { el.value = "21:30"; el.dispatchEvent(new Event("input", { bubbles: true })); }, await near("repeat-at"));
  await step("repeat-zone", () => pick(driver, "repeat-zone", "tokyo", "Asia/Tokyo"));
  await (await near("go-live-start")).click();
  await until(async () => (await driver.findElements(byTestId("go-live-dialog"))).length === 0, "the edit saved", 10000);
  await until(async () => /^Mon, Wed at (21:30|09:30 PM) Asia\/Tokyo, for 2 h$/.test(await textOf(driver, "schedule-when")), "the card shows the edit", 5000);
  const edited = await invoke(driver, "list_schedules", {});
  assert.deepEqual([edited.length, edited[0].id, edited[0].at, edited[0].time_zone], [1, saved[0].id, "21:30", "Asia/Tokyo"], "the same schedule, changed");
  await screenshot(driver, "72c-schedule-edited");

  await (await find(driver, "schedule-delete")).click();
  // Asked first: "Keep it" keeps it.
  await (await find(driver, "schedule-delete-dialog-cancel")).click();
  assert.equal((await invoke(driver, "list_schedules", {})).length, 1);
  await (await find(driver, "schedule-delete")).click();
  await (await find(driver, "schedule-delete-dialog-confirm")).click();
  await until(async () => (await driver.findElements(byTestId("schedule-card"))).length === 0, "the schedule was deleted", 10000);
  assert.deepEqual(await invoke(driver, "list_schedules", {}), []);
});
