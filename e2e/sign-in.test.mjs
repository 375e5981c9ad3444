// The first-run flow in the real window: create a profile, see its UUID once, sign out, sign in
// with it, and see a clear error for a UUID that is wrong or malformed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { until } from "selenium-webdriver";
import { launch, find, screenshot, byTestId, textOf } from "./harness.mjs";

let session;
before(async () => {
  session = await launch();
});
after(async () => {
  await session?.stop();
});

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("a new profile is shown its UUID once, signs out, and signs back in with it", async () => {
  const { driver } = session;
  await find(driver, "create-profile");
  await screenshot(driver, "01-welcome");

  await (await find(driver, "create-name")).sendKeys("E2E Creator");
  await (await find(driver, "create-profile")).click();
  const uuid = (await (await find(driver, "new-uuid")).getText()).trim();
  assert.match(uuid, V4);
  assert.match(await (await find(driver, "uuid-warning")).getText(), /Keep this UUID safe/);
  const proceed = await find(driver, "continue");
  assert.equal(await proceed.isEnabled(), false, "continue waits until the user says the UUID is saved");
  await screenshot(driver, "02-new-profile-uuid");

  await (await find(driver, "uuid-saved")).click();
  await proceed.click();
  assert.equal(await (await find(driver, "profile-name")).getText(), "E2E Creator");
  assert.equal(await (await find(driver, "profile-badges")).getText(), "ADMIN · FREE");
  await screenshot(driver, "03-dashboard");

  // Every tab of the shell opens; Settings shows what the app found and only a masked UUID.
  for (const [tab, panel] of [["videos", "videos-empty"], ["accounts", "accounts-empty"], ["streams", "streams-empty"]]) {
    await (await find(driver, `tab-${tab}`)).click();
    await find(driver, panel);
  }
  await (await find(driver, "tab-settings")).click();
  const masked = await (await find(driver, "masked-uuid")).getText();
  assert.ok(masked.endsWith(uuid.slice(-4)) && !masked.includes(uuid.slice(0, 8)), masked);
  const doctor = await find(driver, "doctor");
  assert.match(await doctor.getText(), /ffmpeg|FFmpeg/);
  // scripts/test.sh runs the app with an unlocked gnome-keyring: the OS keyring is found.
  assert.equal(await (await find(driver, "doctor-keyring")).getText(), "System keyring");
  assert.equal((await driver.findElements(byTestId("keyring-notice"))).length, 0);
  await screenshot(driver, "04-settings");
  const page = await driver.getPageSource();
  assert.ok(!page.includes(uuid), "after creation the UUID is not in the page");

  await (await find(driver, "sign-out")).click();
  await (await find(driver, "sign-in-uuid")).sendKeys(uuid);
  await (await find(driver, "sign-in")).click();
  assert.equal(await (await find(driver, "profile-name")).getText(), "E2E Creator");
  await screenshot(driver, "05-signed-in-again");
  await (await find(driver, "sign-out")).click();
  await find(driver, "sign-in-uuid");
});

test("a wrong or malformed UUID shows a clear error and stays on the sign-in screen", async () => {
  const { driver } = session;
  const input = await find(driver, "sign-in-uuid");
  await input.clear();
  await input.sendKeys("definitely-not-a-uuid");
  await (await find(driver, "sign-in")).click();
  const malformed = await find(driver, "sign-in-error");
  assert.match(await malformed.getText(), /not a profile UUID/);

  await input.clear();
  await input.sendKeys(randomUUID());
  await (await find(driver, "sign-in")).click();
  await driver.wait(until.elementTextMatches(await find(driver, "sign-in-error"), /No profile on this computer has that UUID/), 10000);
  // The plain sentence for its code; the core's own words only behind Details.
  const [sentence, open] = await driver.executeScript(() => {
    const note = document.querySelector('[data-testid="sign-in-error"]');
    return [note.querySelector(":scope > p").textContent, note.querySelector("details").open];
  });
  assert.match(sentence, /^No profile on this computer has that UUID/);
  assert.ok(!/data dir/.test(sentence) && !open, "the core's words stay behind a closed Details");
  await driver.executeScript(() => document.querySelector('[data-testid="sign-in-error"] summary').click());
  assert.match(await textOf(driver, "sign-in-error-details"), /^no profile on this data dir has that UUID/);
  await screenshot(driver, "07-plain-error-with-details");
  await screenshot(driver, "06-wrong-uuid");
  assert.equal((await driver.findElements(byTestId("dashboard"))).length, 0);
});
