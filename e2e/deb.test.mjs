// The .deb that `npm run tauri build` makes (scripts/test.sh builds it): installed with dpkg, the
// installed app starts, shows its window, and finds the FFmpeg sidecar it shipped. Removed after.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { app, launch, find, screenshot, createProfile, textOf, run } from "./harness.mjs";

const debDir = path.join(path.dirname(path.dirname(app)), "release/bundle/deb");
const root = process.getuid?.() === 0;
const asRoot = (...args) => run(root ? args[0] : "sudo", root ? args.slice(1) : ["-n", ...args], { stdio: "inherit", timeout: 120000 });
let session;

before(async () => {
  const deb = readdirSync(debDir).find((f) => f.endsWith(".deb"));
  assert.ok(deb, `no .deb in ${debDir}: scripts/test.sh builds it with npm run tauri build`);
  asRoot("dpkg", "-i", path.join(debDir, deb));
  session = await launch({}, "/usr/bin/twitcher-desktop");
});
after(async () => {
  // The installed app is ended by pid before the package goes: removing the files under a running
  // app is what left an orphan holding the single-instance lock for the next test.
  try {
    await session?.stop();
  } finally {
    asRoot("dpkg", "-r", "twitcher");
  }
});

test("the installed .deb starts and uses the FFmpeg it ships", async () => {
  assert.ok(existsSync("/usr/bin/twitcher-ffmpeg") && existsSync("/usr/bin/twitcher-ffprobe"), "sidecars installed next to the app");
  assert.ok(existsSync("/usr/share/applications/Twitcher.desktop"), "a menu entry");
  const { driver } = session;
  await createProfile(driver, "Installed");
  await (await find(driver, "tab-settings")).click();
  await find(driver, "doctor", 20000);
  const doctor = await textOf(driver, "doctor");
  assert.match(doctor, /\/usr\/bin\/twitcher-ffmpeg/);
  assert.match(doctor, /\/usr\/bin\/twitcher-ffprobe/);
  await driver.executeScript((el) => el.scrollIntoView(), await find(driver, "doctor"));
  await screenshot(driver, "70-installed-deb-settings");
});
