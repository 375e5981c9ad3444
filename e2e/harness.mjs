// Starts tauri-driver (which drives WebKitWebDriver, which starts the real app) and opens a
// WebDriver session on the app window. Each session gets its own data dir.
//
// Nothing here may wait forever: every wait has a deadline, and everything a session starts is
// owned by pid (processes.mjs) and ended by `stop()` whether the test passed, failed or threw.
import { execFileSync } from "node:child_process";
import http from "node:http";
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, realpathSync, readlinkSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Builder, By, until as elementUntil } from "selenium-webdriver";
import { spawnOwned, commandLine, procInfo } from "./processes.mjs";

const root = path.resolve(import.meta.dirname, "..");
export const app = process.env.TWITCHER_E2E_APP ?? path.join(root, "target/debug/twitcher-desktop");
export const shotsDir = path.join(path.dirname(path.dirname(app)), "e2e");

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `promise`, or an error naming `what` once `ms` have passed. */
export function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it returns something truthy; fails naming `what` after `ms`. */
export async function until(check, what, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s: ${what}`);
    await sleep(200);
  }
}

/** execFileSync with a deadline (default 60 s): a helper program that hangs fails the test. */
export function run(command, args, options = {}) {
  return execFileSync(command, args, { encoding: "utf8", timeout: 60000, killSignal: "SIGKILL", ...options });
}

async function waitForPort(port, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => (socket.end(), resolve(true)));
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on port ${port} within ${deadlineMs} ms`);
}

// Twitch's ingest list as https://ingest.twitch.tv/ingests documents it (two servers and a
// deprecated one the app must skip).
export const INGESTS = {
  _total: 3,
  ingests: [
    { _id: 24, availability: 1.0, default: true, name: "Default", priority: 0,
      url_template: "rtmp://ingest.global-contribute.live-video.net/app/{stream_key}",
      url_template_secure: "rtmps://ingest.global-contribute.live-video.net/app/{stream_key}" },
    { _id: 190, availability: 1.0, default: false, name: "US West: Los Angeles, CA", priority: 1,
      url_template: "rtmp://lax.contribute.live-video.net/app/{stream_key}",
      url_template_secure: "rtmps://lax.contribute.live-video.net/app/{stream_key}" },
    { _id: 70, availability: 1.0, default: false, name: "EU: Amsterdam, NL (deprecated)", priority: 2,
      url_template: "rtmp://ams03.contribute.live-video.net/app/{stream_key}",
      url_template_secure: "rtmps://ams03.contribute.live-video.net/app/{stream_key}" },
  ],
};

async function fakeTwitch() {
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/ingests") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(INGESTS));
    } else {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "Not Found", status: 404, message: "" }));
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/**
 * The testkit's fake Twitch OAuth + Helix (src-tauri/testkit/src/bin/fake-twitch.rs): one
 * channel, "nightowl", live with 42 viewers and 1,234 followers, approving every device code.
 * Returns the environment that points the app at it, and stop().
 */
export async function fakeTwitchApi() {
  const bin = path.join(path.dirname(app), "fake-twitch");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: cargo build --workspace --bins`);
  const child = spawnOwned(bin, [], { stdio: ["ignore", "pipe", "inherit"] }, "fake-twitch");
  let line;
  try {
    line = await within(
      new Promise((resolve, reject) => {
        let text = "";
        child.stdout.on("data", (chunk) => {
          text += chunk;
          if (text.includes("\n")) resolve(text.split("\n")[0]);
        });
        child.on("exit", (code) => reject(new Error(`fake-twitch exited with ${code}`)));
      }),
      20000,
      "fake-twitch printing its URLs",
    );
  } catch (e) {
    await child.unit.end();
    throw e;
  }
  const urls = JSON.parse(line);
  return {
    env: {
      TWITCHER_TWITCH_AUTH_URL: urls.auth_url,
      TWITCHER_TWITCH_API_URL: urls.api_url,
      TWITCHER_TWITCH_CLIENT_ID: urls.client_id,
      // xdg-open hands URLs to $BROWSER when no desktop is running: open nothing in tests.
      BROWSER: "/bin/true",
    },
    stop: () => child.unit.end(),
  };
}

/** The single-instance plugin's name on the session bus (tauri-plugin-single-instance, Linux). */
const SINGLE_INSTANCE_NAME = "tv.twitcher.desktop.SingleInstance";

/**
 * Twitcher instances alive on this test's D-Bus and X display: each would take a new launch over
 * through the single-instance lock. Returns "pid command" lines (empty when there is none).
 */
export function runningInstances() {
  const pids = new Set();
  if (process.env.DBUS_SESSION_BUS_ADDRESS) {
    try {
      const reply = run("dbus-send", ["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
        "org.freedesktop.DBus.GetConnectionUnixProcessID", `string:${SINGLE_INSTANCE_NAME}`], { timeout: 10000, stdio: ["ignore", "pipe", "ignore"] });
      const pid = Number(reply.match(/uint32 (\d+)/)?.[1]);
      if (pid) pids.add(pid);
    } catch {
      // NameHasNoOwner: no instance holds the lock.
    }
  }
  if (process.env.DISPLAY) {
    for (const pid of x11("pids", "twitcher-desktop").split(/\s+/).filter(Boolean)) pids.add(Number(pid));
  }
  // A process that has just died may still be named by the bus or the X server for a moment (they
  // notice its closed sockets asynchronously); only a live process is a leftover instance.
  return [...pids].filter((pid) => !["Z", "X", undefined].includes(procInfo(pid)?.state)).map((pid) => `${pid} ${commandLine(pid)}`);
}

/** e2e/x11.py (python-xlib) with a deadline. */
export const x11 = (...args) => run(path.join(root, ".venv-test/bin/python"), [path.join(root, "e2e/x11.py"), ...args], { timeout: 20000 }).trim();

/** The app process that WebKitWebDriver started for this session: in tauri-driver's tree, running `application`. */
function findApp(unit, application) {
  const want = realpathSync(application);
  return unit.members().find((p) => {
    try {
      return readlinkSync(`/proc/${p.pid}/exe`) === want;
    } catch {
      return false;
    }
  });
}

/**
 * Launches the app (the build under test, or `application`) on a fresh data dir, with `env`
 * added; returns { driver, dataDir, appPid, unit, stop }. `stop()` ends the session and makes
 * sure the app and every process it started are gone, whatever state they are in.
 */
export async function launch(env = {}, application = app) {
  if (!existsSync(application)) throw new Error(`${application} is missing: build it first (scripts/test.sh does)`);
  const leftovers = runningInstances();
  if (leftovers.length > 0) {
    throw new Error(`a Twitcher from an earlier test is still running on this test's D-Bus or X display (${leftovers.join("; ")}): ` +
      "a new launch would hand over to it through the single-instance lock and the session would never start. " +
      "The test that launched it did not end it: look at its after() hook.");
  }
  const twitch = await fakeTwitch();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "twitcher-e2e-"));
  const port = await freePort();
  const nativePort = await freePort();
  const driverProcess = spawnOwned(
    "tauri-driver",
    ["--port", String(port), "--native-port", String(nativePort), "--native-driver", "/usr/bin/WebKitWebDriver"],
    {
      env: {
        ...process.env,
        TWITCHER_DATA_DIR: dataDir,
        TWITCHER_TWITCH_INGEST_URL: `http://127.0.0.1:${twitch.address().port}/ingests`,
        ...env,
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
    `tauri-driver for ${path.basename(application)}`,
  );
  const unit = driverProcess.unit;
  let driver;
  let appPid;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      // Ask through WebDriver first; a hung app or a dead web process must not hang this.
      if (driver) await within(driver.quit(), 10000, "driver.quit()");
    } catch (e) {
      console.error(`e2e: ${e.message}; ending the app by pid`);
    } finally {
      const survivors = await unit.end();
      twitch.close();
      if (survivors.length > 0) throw new Error(`processes survived SIGKILL: ${survivors.join("; ")}`);
    }
  };
  try {
    await waitForPort(port, 20000);
    await waitForPort(nativePort, 20000);
    driver = await within(
      new Builder()
        .usingServer(`http://127.0.0.1:${port}/`)
        .withCapabilities({ browserName: "wry", "tauri:options": { application } })
        .build(),
      60000,
      "a WebDriver session on the app",
    );
    await driver.manage().setTimeouts({ script: 30000, pageLoad: 30000 });
    const found = await until(() => findApp(unit, application), `the app process (${application}) under tauri-driver`, 10000);
    appPid = found.pid;
    unit.adopt(appPid, `twitcher app ${path.basename(application)}`);
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
  return { driver, dataDir, appPid, unit, stop };
}

export const byTestId = (id) => By.css(`[data-testid="${id}"]`);

export async function find(driver, id, timeoutMs = 10000) {
  const element = await driver.wait(elementUntil.elementLocated(byTestId(id)), timeoutMs, `no [data-testid=${id}]`);
  await driver.wait(elementUntil.elementIsVisible(element), timeoutMs, `[data-testid=${id}] not visible`);
  return element;
}

export async function screenshot(driver, name) {
  mkdirSync(shotsDir, { recursive: true });
  writeFileSync(path.join(shotsDir, `${name}.png`), await driver.takeScreenshot(), "base64");
}

/** Creates a profile through the first-run screens and lands on the dashboard; returns its UUID. */
export async function createProfile(driver, name) {
  await (await find(driver, "create-name")).sendKeys(name);
  await (await find(driver, "create-profile")).click();
  const uuid = (await (await find(driver, "new-uuid")).getText()).trim();
  await (await find(driver, "uuid-saved")).click();
  await (await find(driver, "continue")).click();
  await find(driver, "dashboard");
  return uuid;
}

/** An element's text as the page has it (WebDriver's visible-text rules drop clipped text). */
export async function textOf(driver, id) {
  const element = await find(driver, id);
  return (await driver.executeScript((el) => el.textContent, element)).trim();
}

/** Picks an option of a <select> by value, as a person choosing it would (fires "change"). */
export async function choose(driver, id, value) {
  const select = await find(driver, id);
  await driver.executeScript(
    (el, v) => {
      el.value = v;
      el.dispatchEvent(new Event("change", { bubbles: true }));
    },
    select,
    value,
  );
}

/**
 * Picks an entry of a searchable picker (ui/src/lib/Picker.svelte) as a person does: clicks it,
 * types `search`, clicks the entry whose value is `value`; waits until the picker holds it.
 */
export async function pick(driver, id, search, value) {
  const input = await find(driver, id);
  await driver.executeScript((e) => e.scrollIntoView({ block: "center" }), input);
  await input.click();
  await input.sendKeys(search);
  await (await driver.wait(elementUntil.elementLocated(By.css(`[data-testid="${id}-option"][data-value="${value}"]`)), 5000, `${id}: no entry ${value} for "${search}"`)).click();
  await until(async () => (await input.getAttribute("data-value")) === String(value), `${id} holds ${value}`, 5000);
}

/**
 * nginx with the RTMP module on a free loopback port, recording every stream key to
 * `dir/records/<key>.flv`. Returns { dir, port, server (the ingest URL), stop, restart(downMs) }.
 */
export async function startIngest() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "twitcher-e2e-live-"));
  mkdirSync(path.join(dir, "records"));
  const port = await freePort();
  const user = process.getuid?.() === 0 ? "user root;" : "";
  writeFileSync(path.join(dir, "nginx.conf"), `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
${user}
worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:${port};
  application app { live on; record all; record_path ${dir}/records; record_unique off; record_append on; } } }
`);
  const spawn = async () => {
    const nginx = spawnOwned("nginx", ["-c", path.join(dir, "nginx.conf"), "-p", dir], { stdio: "ignore" }, "nginx");
    try {
      await waitForPort(port, 10000);
    } catch (e) {
      await nginx.unit.end();
      throw e;
    }
    return nginx;
  };
  let nginx = await spawn();
  return {
    dir,
    port,
    server: `rtmp://127.0.0.1:${port}/app`,
    stop: () => nginx.unit.end(),
    /** The same ingest again on the same port, after `stop`. */
    start: async () => {
      nginx = await spawn();
    },
    /** An outage of `downMs`, then the same ingest on the same port (recording on). */
    restart: async (downMs) => {
      await nginx.unit.end();
      await sleep(downMs);
      nginx = await spawn();
    },
  };
}

/** A 4 s 640x360 test video with a tone, made by ffmpeg. */
export function makeVideo(file) {
  run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine",
    "-t", "4", "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", file]);
}

/**
 * Starts a looping broadcast of `videoId` to `accountIds` through the window's command, encoded
 * live at 640x360 (no preparation to wait for); returns what `start_broadcast` answered.
 */
export function startLive(driver, { videoId, accountIds, title, videoKbps = 800 }) {
  return invoke(driver, "start_broadcast", {
    request: {
      video_id: videoId, account_ids: accountIds, title, category: null, tags: [],
      quality: { fps: 30, video_bitrate_k: videoKbps, audio_bitrate_k: 128, width: 640, height: 360 }, loop: true, live_encode: true,
    },
  });
}

/** Ticks a checkbox, whatever it was (the Go live dialog remembers the last choice, and one
 *  window's memory is every test file's: they share the webview's storage). */
export async function tick(driver, testid) {
  const box = await find(driver, testid);
  if (!(await box.isSelected())) await box.click();
}

/** Calls a Tauri command from the page, as the UI would; fails the test on an error result. */
export async function invoke(driver, command, args) {
  const result = await driver.executeAsyncScript(
    (command, args, done) => window.__TAURI_INTERNALS__.invoke(command, args).then(done, (e) => done({ failed: e })),
    command,
    args,
  );
  if (result && result.failed) throw new Error(`${command}: ${JSON.stringify(result.failed)}`);
  return result;
}
