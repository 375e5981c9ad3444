// "Connect with Twitch" in the real window against the testkit's fake Twitch: the code is shown,
// the approval links the account with the stream key Twitch holds (shown masked), and the row
// shows the avatar, the live dot, followers and viewers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, find, screenshot, byTestId, createProfile, textOf, fakeTwitchApi } from "./harness.mjs";

let session;
let twitch;
before(async () => {
  twitch = await fakeTwitchApi();
  session = await launch(twitch.env);
});
after(async () => {
  try {
    await session?.stop();
  } finally {
    await twitch?.stop();
  }
});

test("connect with Twitch links the channel with its key, and its stats show", async () => {
  const { driver } = session;
  await createProfile(driver, "Twitch E2E");
  await (await find(driver, "tab-accounts")).click();
  await find(driver, "accounts-empty");
  await (await find(driver, "connect-twitch")).click();
  await find(driver, "connect-dialog");
  const code = await textOf(driver, "connect-code");
  assert.match(code, /^[A-Z]{8}$/);
  assert.match(await textOf(driver, "connect-url"), /\/activate/);
  await screenshot(driver, "14-connect-with-twitch");

  // The fake approves at the first poll; the dialog closes and the account appears.
  const row = await find(driver, "account-row", 20000);
  assert.match(await textOf(driver, "account-row-name"), /NIGHTOWL/);
  assert.equal(await textOf(driver, "account-row-key"), "live_****9876");
  await driver.wait(async () => (await driver.findElements(byTestId("live-dot"))).length === 1, 10000, "no live dot");
  const stats = await textOf(driver, "account-stats");
  assert.match(stats, /^1,?234 followers · live, 42 viewers · “3 a\.m\. rerun” · Just Chatting$/);
  assert.match(stats, /live, 42 viewers/);
  assert.ok(row);
  // The key Twitch handed over is not in the page.
  assert.ok(!(await driver.getPageSource()).includes("e2eKeyFromTwitch"));
  await screenshot(driver, "15-connected-account");
});
