// Settings shows whether the window's background work happens (issue 29): every supervised task
// with its last run and restarts. A fault injected in one task's first turn (the testing build's
// TWITCHER_TEST_PANIC_TASKS door) shows as one restart of a task that runs again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, find, screenshot, createProfile, until } from "./harness.mjs";
import { By } from "selenium-webdriver";

let session;
before(async () => {
  session = await launch({ TWITCHER_TEST_PANIC_TASKS: "recurring schedules=1" });
});
after(async () => {
  await session?.stop();
});

test("settings shows each background task, one that panicked restarted and running again", async () => {
  const { driver } = session;
  await createProfile(driver, "Health E2E");
  await (await find(driver, "tab-settings")).click();
  await find(driver, "health");
  const row = async (name) => {
    for (const r of await driver.findElements(By.css('[data-testid="health-task"]'))) {
      if ((await (await r.findElement(By.css('[data-testid="health-task-name"]'))).getText()) === name) return r;
    }
    return null;
  };
  // The table refreshes every 5 s.
  await until(async () => {
    const r = await row("recurring schedules");
    if (!r) return false;
    const state = await (await r.findElement(By.css('[data-testid="health-task-state"]'))).getText();
    const restarts = await (await r.findElement(By.css('[data-testid="health-task-restarts"]'))).getText();
    return state === "OK" && restarts === "1";
  }, "recurring schedules restarted once and OK", 20000);
  for (const name of ["job worker", "recovery", "scheduler: due broadcasts", "alerts", "token validation"]) {
    assert.ok(await row(name), `${name} is listed`);
  }
  assert.equal(await (await find(driver, "health-summary")).getText(), "Everything runs");
  // What the data folder holds and what the disk has free.
  assert.match(await (await find(driver, "disk-free")).getText(), /\d+ (GB|MB)/);
  assert.match(await (await find(driver, "disk-prepared")).getText(), /of 20 GB$/);
  const health = await find(driver, "health");
  await driver.executeScript((el) => el.scrollIntoView({ block: "start" }), health);
  await screenshot(driver, "27-settings-health");
});
