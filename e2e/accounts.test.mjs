// The Accounts tab in the real window: link an account, see its key masked, edit it (with a new
// key and another ingest), remove it after confirming; rotate the encryption key in Settings.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { until } from "selenium-webdriver";
import { launch, find, screenshot, byTestId, createProfile, textOf, invoke } from "./harness.mjs";

let session;
before(async () => {
  session = await launch();
});
after(async () => {
  await session?.stop();
});

const KEY = "live_123456789_E2eSeCrEtKeYnEvErShOwN4321";
const NEW_KEY = "live_987654321_AnOtHeRe2eSeCrEtKeY8765";

async function rows(driver) {
  return driver.findElements(byTestId("account-row"));
}

test("an account is linked, shown masked, edited and removed", async () => {
  const { driver } = session;
  await createProfile(driver, "Accounts E2E");
  await (await find(driver, "tab-accounts")).click();
  await find(driver, "accounts-empty");
  assert.equal(await (await find(driver, "accounts-usage")).getText(), "0 of 3 accounts · FREE plan");

  await (await find(driver, "add-account")).click();
  await find(driver, "account-dialog");
  // Every field is checked at once, each mistake beside its own field (not one at a time after
  // Save, not the webview's light bubble); nothing is sent while any is wrong.
  await (await find(driver, "account-save")).click();
  assert.equal(await textOf(driver, "account-name-problem"), "Give it a name.");
  // The channel id is optional (as in OBS, a server and a key are enough): its line is a hint.
  assert.match(await textOf(driver, "account-channel-hint"), /^Twitch's number for the channel\. Leave it empty/);
  assert.match(await textOf(driver, "account-key-problem"), /^Paste the stream key from Twitch's Creator Dashboard/);
  await (await find(driver, "account-login")).sendKeys("main channel");
  assert.match(await textOf(driver, "account-login-problem"), /^A Twitch user name: up to 25 letters/);
  await screenshot(driver, "10a-account-fields-checked");
  assert.equal((await invoke(driver, "list_accounts", {})).length, 0, "nothing was saved");
  await (await find(driver, "account-login")).clear();
  await (await find(driver, "account-name")).sendKeys("Main channel");
  await (await find(driver, "account-channel")).sendKeys("141981764");
  await (await find(driver, "account-login")).sendKeys("main_channel");
  await (await find(driver, "account-key")).sendKeys(KEY);
  // Twitch's list (from the local fake) fills the dropdown, without the deprecated server.
  const ingest = await find(driver, "account-ingest");
  await driver.wait(async () => (await ingest.getText()).includes("US West: Los Angeles, CA"), 10000);
  assert.ok(!(await ingest.getText()).includes("deprecated"));
  await screenshot(driver, "10-account-dialog");
  await (await find(driver, "account-save")).click();

  await driver.wait(async () => (await rows(driver)).length === 1, 10000, "the account appears");
  assert.equal(await (await find(driver, "account-row-key")).getText(), "live_****4321");
  assert.equal(await (await find(driver, "accounts-usage")).getText(), "1 of 3 accounts · FREE plan");
  assert.ok(!(await driver.getPageSource()).includes("E2eSeCrEtKeY"), "the key is not in the page after saving");
  await screenshot(driver, "11-accounts-list");

  // Edit: the key field starts empty; a new key and a server from the list are saved.
  await (await find(driver, "edit-account")).click();
  const keyField = await find(driver, "account-key");
  assert.equal(await keyField.getAttribute("value"), "");
  const name = await find(driver, "account-name");
  await name.clear();
  await name.sendKeys("Main channel (EU)");
  await keyField.sendKeys(NEW_KEY);
  await (await find(driver, "account-ingest")).sendKeys("US West");
  await (await find(driver, "account-save")).click();
  await driver.wait(until.elementTextIs(await find(driver, "account-row-name"), "Main channel (EU)"), 10000);
  assert.equal(await (await find(driver, "account-row-key")).getText(), "live_****8765");
  assert.match(await (await find(driver, "account-row")).getText(), /rtmps:\/\/lax\.contribute\.live-video\.net\/app/);

  // A custom ingest with a key inside is refused with the reason, and nothing changes.
  await (await find(driver, "edit-account")).click();
  await (await find(driver, "account-ingest")).sendKeys("Custom");
  await (await find(driver, "account-ingest-url")).sendKeys("rtmp://127.0.0.1/app/live_1234567890");
  await (await find(driver, "account-save")).click();
  assert.equal(await textOf(driver, "account-ingest-problem"), "Only the server, without the stream key: the key goes in its own field.");
  await screenshot(driver, "12-account-invalid-ingest");
  await driver.actions().sendKeys("\uE00C").perform(); // Escape closes the dialog
  await driver.wait(async () => (await driver.findElements(byTestId("account-dialog"))).length === 0, 5000);

  // Rotation in Settings re-encrypts the one key.
  await (await find(driver, "tab-settings")).click();
  await (await find(driver, "rotate-key")).click();
  assert.equal(await (await find(driver, "rotate-result")).getText(), "Re-encrypted 1 secret under a new key.");
  await (await find(driver, "tab-accounts")).click();

  await (await find(driver, "remove-account")).click();
  await find(driver, "remove-dialog");
  await screenshot(driver, "13-remove-confirmation");
  await (await find(driver, "confirm-remove")).click();
  await find(driver, "accounts-empty");
  assert.equal((await rows(driver)).length, 0);
});

test("an account by hand needs only a name, a server and a key, as in OBS", async () => {
  const { driver } = session;
  await (await find(driver, "add-account")).click();
  await find(driver, "account-dialog");
  await (await find(driver, "account-name")).sendKeys("Side channel");
  await (await find(driver, "account-key")).sendKeys(KEY);
  await (await find(driver, "account-ingest")).sendKeys("Custom");
  await (await find(driver, "account-ingest-url")).sendKeys("rtmp://127.0.0.1/app");
  await (await find(driver, "account-save")).click();
  await driver.wait(async () => (await rows(driver)).length === 1, 10000, "the account appears");
  const [account] = await invoke(driver, "list_accounts", {});
  assert.equal(account.channel_id, null, "no channel id was needed");
  assert.doesNotMatch(await (await find(driver, "account-row")).getText(), /channel null|channel undefined/);
  await screenshot(driver, "13-account-by-hand-without-channel-id");
});
