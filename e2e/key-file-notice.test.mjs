// Where no OS keyring can be used, Settings says plainly that a key file protects the secrets.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, find, screenshot, createProfile } from "./harness.mjs";

let session;
before(async () => {
  // The same fallback a machine without a Secret Service gets, forced the documented way.
  session = await launch({ TWITCHER_KEYRING: "file" });
});
after(async () => {
  await session?.stop();
});

test("settings shows a visible notice when secrets are protected by a key file", async () => {
  const { driver } = session;
  await createProfile(driver, "Key File E2E");
  await (await find(driver, "tab-settings")).click();
  const notice = await find(driver, "keyring-notice");
  assert.match(await notice.getText(), /protected by a key file in the data folder, not by your system keyring/);
  assert.equal(await (await find(driver, "doctor-keyring")).getText(), "Key file in the data folder");
  await screenshot(driver, "20-key-file-notice");
});
