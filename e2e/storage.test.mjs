// S3 storage from the window, against a real S3-compatible server (moto) on loopback: save the
// settings (the secret never comes back), test the connection, move an imported video to S3.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { launch, find, screenshot, createProfile, textOf, run, until } from "./harness.mjs";
import { spawnOwned } from "./processes.mjs";

const SECRET = "e2e-s3-SeCrEt-key-0099";
let session;
let moto;
let endpoint;
let media;

async function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  const program = process.env.TWITCHER_TEST_MOTO_SERVER;
  assert.ok(program, "TWITCHER_TEST_MOTO_SERVER (scripts/test.sh installs moto)");
  const port = await freePort();
  moto = spawnOwned(program, ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" }, "moto_server");
  endpoint = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${endpoint}/e2e-videos`, { method: "PUT", signal: AbortSignal.timeout(5000) })).status === 200,
    "moto answering and making the bucket", 20000);
  media = mkdtempSync(path.join(os.tmpdir(), "twitcher-e2e-s3-"));
  run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", path.join(media, "Cloud clip.mp4")]);
  session = await launch();
});
after(async () => {
  try {
    await session?.stop();
  } finally {
    await moto?.unit.end();
  }
});

test("S3 settings are saved and tested, and a video moves to the bucket", async () => {
  const { driver } = session;
  await createProfile(driver, "Storage E2E");
  await (await find(driver, "tab-settings")).click();
  await (await find(driver, "s3-endpoint")).sendKeys(endpoint);
  await (await find(driver, "s3-bucket")).sendKeys("e2e-videos");
  await (await find(driver, "s3-access-key")).sendKeys("test");
  await (await find(driver, "s3-secret-key")).sendKeys(SECRET);
  await (await find(driver, "s3-save")).click();
  assert.equal(await textOf(driver, "s3-message"), "Saved.");
  assert.equal(await (await find(driver, "s3-secret-key")).getAttribute("value"), "");
  assert.ok(!(await driver.getPageSource()).includes("SeCrEt"), "the secret key is not sent back");
  await (await find(driver, "s3-test")).click();
  await driver.wait(async () => (await textOf(driver, "s3-message")) === "Connected: the bucket answered.", 10000);
  await screenshot(driver, "40-s3-settings");

  await (await find(driver, "tab-videos")).click();
  await driver.executeAsyncScript(
    (paths, done) => window.__TAURI_INTERNALS__.invoke("import_videos", { paths }).then(done, done),
    [path.join(media, "Cloud clip.mp4")],
  );
  await (await find(driver, "video-card", 30000)).click();
  await (await find(driver, "video-upload")).click();
  await driver.wait(async () => (await textOf(driver, "video-metadata")).includes("S3: twitcher/"), 30000);
  await screenshot(driver, "41-video-in-s3");
  const listing = await (await fetch(`${endpoint}/e2e-videos?list-type=2`)).text();
  assert.match(listing, /<Key>twitcher\/\d+\/[0-9a-f]{64}\.mp4<\/Key>/);
});
