// The harness itself: a session always ends with nothing left behind — the app, WebKit's processes,
// WebKitWebDriver and tauri-driver — even when the app cannot answer, and a hung test fails at its
// timeout instead of stalling the run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { launch, runningInstances, find, until } from "./harness.mjs";
import { isAlive, procInfo, commandLine } from "./processes.mjs";

const alive = (records) => records.filter(isAlive).map((r) => `${r.pid} ${commandLine(r.pid)}`);

/** A live session's whole tree, asserted to hold the app and at least one WebKit child of it. */
async function liveTree(session) {
  await find(session.driver, "create-name");
  const tree = session.unit.members().map((p) => ({ pid: p.pid, start: p.start }));
  assert.ok(tree.some((p) => p.pid === session.appPid), "the app is in the session's tree");
  assert.ok(tree.length >= 4, `tauri-driver, WebKitWebDriver, the app and its web process: ${tree.length} processes`);
  return tree;
}

/** Runs `body` on a fresh session and stops it however `body` ends; returns the session's tree. */
async function withSession(body) {
  const session = await launch();
  try {
    const tree = await liveTree(session);
    await body(session, tree);
    return tree;
  } finally {
    await session.stop();
  }
}

test("a session whose app ignores every request to close still leaves no process behind", async () => {
  const tree = await withSession(async (session) => {
    // A stopped process answers neither WebDriver nor SIGTERM: the hung app of the worst case.
    process.kill(session.appPid, "SIGSTOP");
    await until(() => procInfo(session.appPid)?.state === "T", "the app stopped");
  });
  assert.deepEqual(alive(tree), []);
  assert.deepEqual(runningInstances(), []);
});

test("a session whose web process was killed leaves no process behind", async () => {
  const tree = await withSession(async (session, tree) => {
    const web = tree.filter((p) => procInfo(p.pid)?.ppid === session.appPid && /WebKitWebProcess/.test(commandLine(p.pid)));
    assert.equal(web.length, 1, "the app has one web process");
    process.kill(web[0].pid, "SIGKILL");
  });
  assert.deepEqual(alive(tree), []);
  assert.deepEqual(runningInstances(), []);
});

test("a test that hangs fails at its timeout, and the app it launched is ended", () => {
  const pids = path.join(mkdtempSync(path.join(os.tmpdir(), "twitcher-e2e-hang-")), "pids");
  writeFileSync(pids, "");
  const started = Date.now();
  const result = spawnSync(process.execPath, ["--test", "--test-timeout=60000", "--test-force-exit", "--test-reporter=tap",
    path.join(import.meta.dirname, "fixtures/hangs-forever.mjs")], {
    // NODE_TEST_CONTEXT would make the inner runner think it is nested in ours and run nothing.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, TWITCHER_E2E_PIDS: pids },
    encoding: "utf8",
    timeout: 120000,
  });
  const seconds = (Date.now() - started) / 1000;
  assert.equal(result.signal, null, `the run ended by itself (${seconds} s)`);
  assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /timed out after 3000ms/);
  assert.ok(seconds < 60, `it failed within its timeout plus the launch and cleanup (${seconds} s)`);
  const recorded = readFileSync(pids, "utf8").trim().split("\n").map((l) => {
    const [pid, start] = l.split(" ");
    return { pid: Number(pid), start };
  });
  assert.ok(recorded.length >= 2, "the hung test launched tauri-driver and the app");
  assert.deepEqual(alive(recorded), []);
  assert.deepEqual(runningInstances(), []);
});
