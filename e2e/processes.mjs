// Every process an end-to-end test starts is owned here, and ended by pid — never by name.
//
// Why: a Twitcher left running by one test (orphaned when its driver died, even with a blank
// window) holds the single-instance lock, and the next launch hands over to it and exits while the
// WebDriver session waits forever. So each child is started in a process group of its own, its
// pid and start time (which tells a live process from a reused pid) are recorded — in memory and
// in the file named by TWITCHER_E2E_PIDS, which scripts/test.sh sweeps after the run — and ending
// it means: ask (SIGTERM) every process of its tree, wait briefly, then SIGKILL what is left. The
// tree is found in /proc: the members of the child's process group plus the descendants of every
// pid recorded for it, so a process reparented to init is still found through its group.
import { spawn } from "node:child_process";
import { appendFileSync, readdirSync, readFileSync } from "node:fs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** { pid, ppid, pgid, state, start } of a process from /proc, or null when it is gone. */
export function procInfo(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { pid, state: fields[0], ppid: Number(fields[1]), pgid: Number(fields[2]), start: fields[19] };
}

function allProcesses() {
  const list = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info) list.push(info);
  }
  return list;
}

/** True while `record` ({ pid, start }) names a running process (zombies count as gone). */
export function isAlive(record) {
  const info = procInfo(record.pid);
  return Boolean(info && info.start === record.start && info.state !== "Z" && info.state !== "X");
}

export function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return "";
  }
}

const pidsFile = process.env.TWITCHER_E2E_PIDS;
const owned = new Set();
// Never our own group: a process adopted from it (one spawned without `detached`) must not take
// this test process down with it.
const ownGroup = procInfo(process.pid).pgid;

/**
 * A process and everything it starts. `roots` are the recorded { pid, start } pairs, `groups`
 * their process groups; `members()` is what is alive of the tree right now.
 */
class Owned {
  constructor(label) {
    this.label = label;
    this.roots = [];
    // pgid → the group leader's start time: a process of that group started before it cannot be
    // ours (the pid was reused as a group id after our group was gone).
    this.groups = new Map();
    owned.add(this);
  }

  /** Records `pid` (and its process group) as part of this unit. */
  adopt(pid, what = this.label) {
    const info = procInfo(pid);
    if (!info) return null;
    const record = { pid, start: info.start };
    this.roots.push(record);
    if (info.pgid !== ownGroup) this.groups.set(info.pgid, Number(procInfo(info.pgid)?.start ?? info.start));
    if (pidsFile) appendFileSync(pidsFile, `${pid} ${info.start} ${info.pgid} ${what}\n`);
    return record;
  }

  /** Takes back a unit recorded in a pids file by another process (scripts/test.sh's sweep). */
  restore({ pid, start, pgid }) {
    this.roots.push({ pid, start });
    if (pgid !== ownGroup) this.groups.set(pgid, Number(start));
  }

  members() {
    const processes = allProcesses().filter((p) => p.state !== "Z" && p.state !== "X");
    const byParent = new Map();
    for (const p of processes) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
    const found = new Map();
    const visit = (p) => {
      if (found.has(p.pid)) return;
      found.set(p.pid, p);
      for (const child of byParent.get(p.pid) ?? []) visit(child);
    };
    for (const p of processes) if (this.groups.has(p.pgid) && Number(p.start) >= this.groups.get(p.pgid)) visit(p);
    for (const root of this.roots) if (isAlive(root)) visit(procInfo(root.pid));
    return [...found.values()];
  }

  /** Asks every process of the tree to end, waits up to `graceMs`, then kills what is left. */
  async end(graceMs = 5000) {
    for (const p of this.members()) signal(p.pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (this.members().length > 0 && Date.now() < deadline) await sleep(100);
    // A process may start another while it dies: kill until nothing is left (bounded).
    for (let round = 0; round < 20; round++) {
      const left = this.members();
      if (left.length === 0) break;
      for (const p of left) signal(p.pid, "SIGKILL");
      await sleep(100);
    }
    const survivors = this.members();
    if (survivors.length === 0) owned.delete(this);
    return survivors.map((p) => `${p.pid} ${commandLine(p.pid)}`);
  }

  /**
   * The synchronous last resort (process exit, a signal): SIGKILL the whole tree now and wait
   * (blocking, at most 2 s) until it is gone, since the process exits right after.
   */
  killNow() {
    const deadline = Date.now() + 2000;
    for (let left = this.members(); left.length > 0 && Date.now() < deadline; left = this.members()) {
      for (const p of left) signal(p.pid, "SIGKILL");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    owned.delete(this);
  }
}

function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Spawns `command` in a process group of its own and owns it: `unit.end()` ends it and every
 * process it started. Returns the ChildProcess with `.unit` set.
 */
export function spawnOwned(command, args, options = {}, label = command) {
  const child = spawn(command, args, { ...options, detached: true });
  const unit = new Owned(label);
  if (child.pid) unit.adopt(child.pid);
  child.unit = unit;
  return child;
}

/** A unit for processes found rather than spawned (the app that WebKitWebDriver starts). */
export function ownedUnit(label) {
  return new Owned(label);
}

/** Units recorded in a pids file ("pid start pgid label" lines), for a sweep after the run. */
export function recordedUnits(file) {
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => {
    const [pid, start, pgid, ...label] = line.split(" ");
    const unit = new Owned(label.join(" "));
    unit.restore({ pid: Number(pid), start, pgid: Number(pgid) });
    return unit;
  });
}

export async function endAll() {
  const survivors = [];
  for (const unit of [...owned]) survivors.push(...(await unit.end()));
  return survivors;
}

// Whatever way this test file's process ends — tests done (node --test-force-exit), a failure, a
// timeout's SIGTERM — nothing it started outlives it.
process.on("exit", () => {
  for (const unit of [...owned]) unit.killNow();
});
for (const [name, number] of [["SIGTERM", 15], ["SIGINT", 2], ["SIGHUP", 1]]) {
  process.on(name, () => {
    const running = [...owned].map((u) => u.label).join(", ");
    if (running) process.stderr.write(`e2e: ${name} received; ending ${running}\n`);
    process.exit(128 + number);
  });
}
