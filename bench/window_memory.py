#!/usr/bin/env python3
"""The window's idle memory against a bare Tauri 2 window built the same way (issue 17).

Starts each under its own Xvfb (release builds: Twitcher's `twitcher-desktop`, and
bench/bare-window, one window with a static page), waits until it has been idle for 20 s, and
sums the PSS (proportional set size: shared pages divided among their users) of the app and
every process under it (WebKit's web and network processes). Three rounds each, alternating;
prints each and the medians' ratio. Goal: at most 1.15x the bare window.

Twitcher starts on a fresh data dir (its sign-in screen; the tray registered; the job worker,
scheduler and engine idle).

Usage: python3 bench/window_memory.py [path/to/twitcher-desktop]
(default target/release/twitcher-desktop; the bare window is built with cargo into the same target
dir as the app, CARGO_TARGET_DIR if set). Needs Xvfb (scripts/setup.sh --test installs it).
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDLE = 20
ROUNDS = int(os.environ.get("ROUNDS", 3))


def children(pid):
    """pid and every descendant, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(parents.get(p, []))
    return found


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(command, env):
    """Starts `command` on a fresh Xvfb; after IDLE s returns (total PSS MiB, process count)."""
    display = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    number = display.stdout.readline().strip()
    app = subprocess.Popen(command, env=dict(env, DISPLAY=f":{number}"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        time.sleep(IDLE)
        if app.poll() is not None:
            sys.exit(f"{command[0]} exited with {app.returncode} before it was measured")
        pids = children(app.pid)
        parts = {}
        for p in pids:
            try:
                with open(f"/proc/{p}/comm") as f:
                    name = f.read().strip()
            except OSError:
                continue
            parts[name] = parts.get(name, 0) + pss_kib(p) / 1024
        return sum(parts.values()), parts
    finally:
        os.killpg(app.pid, signal.SIGTERM)
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()
        display.terminate()
        display.wait()


def main():
    twitcher = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/twitcher-desktop")
    if not os.path.exists(twitcher):
        sys.exit(f"{twitcher} not found: build it with `npm run tauri -- build --bundles deb` (or pass its path)")
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(twitcher)))
    print("building the bare window …", flush=True)
    subprocess.run(["cargo", "build", "--release", "--manifest-path", os.path.join(ROOT, "bench/bare-window/Cargo.toml")],
                   env=dict(os.environ, CARGO_TARGET_DIR=target), check=True)
    bare = os.path.join(target, "release/bare-window")

    work = tempfile.mkdtemp(prefix="twitcher-memory-")
    env = dict(os.environ, TWITCHER_KEYRING="file", NO_AT_BRIDGE="1", XDG_CONFIG_HOME=f"{work}/config", XDG_CACHE_HOME=f"{work}/cache")
    env.pop("TWITCHER_PROFILE", None)
    ours, theirs = [], []
    for round_ in range(ROUNDS):
        print(f"round {round_ + 1}: twitcher …", flush=True)
        ours.append(measure([twitcher], dict(env, TWITCHER_DATA_DIR=f"{work}/data-{round_}", XDG_DATA_HOME=f"{work}/share-{round_}")))
        print(f"round {round_ + 1}: bare window …", flush=True)
        theirs.append(measure([bare], dict(env, XDG_DATA_HOME=f"{work}/bare-{round_}")))

    print()
    show = lambda parts: ", ".join(f"{name} {mib:.1f}" for name, mib in sorted(parts.items(), key=lambda p: -p[1]))
    for i, ((a, pa), (b, pb)) in enumerate(zip(ours, theirs)):
        print(f"round {i + 1}: twitcher {a:.1f} MiB PSS ({show(pa)}), bare window {b:.1f} MiB ({show(pb)})")
    a, b = statistics.median(m for m, _ in ours), statistics.median(m for m, _ in theirs)
    print(f"\nmedian: twitcher {a:.1f} MiB, bare window {b:.1f} MiB, ratio {a / b:.3f} (goal ≤ 1.15)")


if __name__ == "__main__":
    main()
