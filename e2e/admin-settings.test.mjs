// The data dir's own settings are an ADMIN's: a second profile (a USER) on the same computer sees
// them locked with a note saying why, and the commands behind them refuse it even when called
// directly; the ADMIN can still change them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Key } from "selenium-webdriver";
import { launch, find, screenshot, createProfile, invoke, textOf, until } from "./harness.mjs";

let session;
before(async () => {
  session = await launch({ TWITCHER_KEYRING: "file" });
});
after(async () => {
  await session?.stop();
});

test("a USER profile cannot change the installation's settings, an ADMIN can", async () => {
  const { driver } = session;
  await createProfile(driver, "Owner");
  await (await find(driver, "tab-settings")).click();
  assert.equal(await (await find(driver, "rotate-key")).isEnabled(), true, "the first profile is the ADMIN");
  await invoke(driver, "set_max_import_bytes", { bytes: 300 * 1024 * 1024 });

  // A loudness target out of range is said beside the field as it is typed, and never saved.
  const typeLufs = async (value) => {
    await (await find(driver, "loudness-target")).click();
    // The keyboard, as a person: select what is there, type over it, Tab out (a change).
    await driver.actions().keyDown(Key.CONTROL).sendKeys("a").keyUp(Key.CONTROL).sendKeys(value, Key.TAB).perform();
  };
  await typeLufs("-3");
  assert.match(await textOf(driver, "loudness-problem"), /^Between −70 and −5 LUFS \(−16 is usual\)\. Not saved: videos are still brought to -16 LUFS\.$/);
  await driver.executeScript((el) => el.scrollIntoView({ block: "center" }), await find(driver, "loudness-problem"));
  await screenshot(driver, "77-loudness-out-of-range");
  assert.equal(await invoke(driver, "loudness_target", {}), -16, "the bad value was not saved");
  await typeLufs("-14");
  await until(async () => (await driver.findElements({ css: '[data-testid="loudness-saved"]' })).length === 1, "the good value saved", 5000);
  assert.equal(await invoke(driver, "loudness_target", {}), -14);

  await (await find(driver, "sign-out")).click();
  await createProfile(driver, "Guest");
  assert.match(await textOf(driver, "profile-badges"), /USER/);
  await (await find(driver, "tab-settings")).click();
  const note = await find(driver, "admin-only-note");
  assert.match(await note.getText(), /only an ADMIN profile changes them/);
  for (const id of ["rotate-key", "max-import-save", "after-crash", "loudness-target"]) {
    assert.equal(await (await find(driver, id)).isEnabled(), false, `${id} is locked for a USER`);
  }
  assert.equal(await (await find(driver, "close-to-tray")).isEnabled(), true, "the tray choice is the user's own");
  assert.equal(await textOf(driver, "doctor-database"), "SQLite in the data folder");
  // Let WebKit paint what the page already holds before the picture.
  await driver.sleep(500);
  await screenshot(driver, "76-user-settings-locked");

  // Not only the controls: the commands themselves refuse, and nothing changes.
  for (const [command, args] of [["rotate_vault", {}], ["set_max_import_bytes", { bytes: 1 }], ["set_loudness_target", { lufs: -20 }],
    ["set_after_crash", { policy: "restart" }], ["set_twitch_client_id", { clientId: "abc" }]]) {
    await assert.rejects(invoke(driver, command, args), /not_admin/, `${command} refused`);
  }
  assert.equal(await invoke(driver, "max_import_bytes", {}), 300 * 1024 * 1024, "the limit the ADMIN set stands");
});
