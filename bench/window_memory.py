#!/usr/bin/env python3
"""The window's idle memory against a bare Tauri 2 window built the same way (issue 17).

Starts each under its own Xvfb (release builds: Twitcher's `twitcher-desktop`, and
bench/bare-window, one window with a static page), waits until it has been idle for 20 s, and
sums the PSS (proportional set size: shared pages divided among their users) of the app and
every process under it (WebKit's web and network processes). Five rounds, alternating.

Each round also says how many frame buffers the app shares with its web process: WebKit keeps a
second one (+~9 MiB) once a page has drawn twice, which Twitcher always has (its loading line,
then its screen) and a bare page drawn once only sometimes; so the ratio is also printed for the
rounds in which both kept as many.

Four configurations: each app as it is, and each with WebKitGTK's accelerated compositing off
(WEBKIT_DISABLE_COMPOSITING_MODE=1: no GL context or layer tiles in the web process), which shows
what Twitcher's own code and page cost once WebKit's largest shared part is out of the way. The
goal (at most 1.15x) is held against the bare window as it is.

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
WINDOW = (1120, 740)  # both apps' window size (tauri.conf.json, bench/bare-window/tauri.conf.json)
ROUNDS = int(os.environ.get("ROUNDS", 5))


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


def frame_buffers(pid):
    """How many window-sized frame buffers the app shares with its web process (memfd mappings).

    With compositing on, WebKit keeps one buffer for a page drawn once and a second as soon as it
    draws again (+~9 MiB in all, most of it in the web process): a bare page drawn once sometimes
    keeps one, Twitcher (its loading line, then the screen) always two, like any page a user has
    hovered or typed into."""
    rss = 0
    try:
        with open(f"/proc/{pid}/smaps") as f:
            shared = False
            for line in f:
                if "-" in line.split()[0] and ":" not in line.split()[0]:
                    shared = "WebKitSharedMemory" in line
                elif shared and line.startswith("Rss:"):
                    rss += int(line.split()[1])
    except OSError:
        return 0
    return round(rss / (WINDOW[0] * WINDOW[1] * 4 / 1024))


def measure(command, env):
    """Starts `command` on a fresh Xvfb; after IDLE s returns (total PSS MiB, its parts, frame buffers)."""
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
        return sum(parts.values()), parts, frame_buffers(app.pid)
    finally:
        os.killpg(app.pid, signal.SIGTERM)
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()
        display.terminate()
        display.wait()


def startup_order_coverage(binary):
    """How many of src-tauri/startup-order.txt's functions `binary` has (the rest are not grouped)."""
    path = os.path.join(ROOT, "src-tauri/startup-order.txt")
    if not os.path.exists(path):
        return "no src-tauri/startup-order.txt"
    listed = set(open(path).read().split())
    symbols = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True).stdout.split()
    found = len(listed.intersection(symbols))
    return f"{found} of {len(listed)} functions of src-tauri/startup-order.txt found in the binary " \
           f"({100 * found / max(len(listed), 1):.0f}%; regenerate it with scripts/startup-order.py when low)"


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
    env.pop("WEBKIT_DISABLE_COMPOSITING_MODE", None)
    runs = {
        "twitcher": lambda r: measure([twitcher], dict(env, TWITCHER_DATA_DIR=f"{work}/data-{r}", XDG_DATA_HOME=f"{work}/share-{r}")),
        "twitcher, compositing off": lambda r: measure([twitcher], dict(env, TWITCHER_DATA_DIR=f"{work}/off-{r}", XDG_DATA_HOME=f"{work}/share-off-{r}",
                                                                       WEBKIT_DISABLE_COMPOSITING_MODE="1")),
        "bare window": lambda r: measure([bare], dict(env, XDG_DATA_HOME=f"{work}/bare-{r}")),
        "bare window, compositing off": lambda r: measure([bare], dict(env, XDG_DATA_HOME=f"{work}/bare-off-{r}", WEBKIT_DISABLE_COMPOSITING_MODE="1")),
    }
    results = {name: [] for name in runs}
    for round_ in range(ROUNDS):
        for name, run in runs.items():
            print(f"round {round_ + 1}: {name} …", flush=True)
            results[name].append(run(round_))

    print()
    show = lambda parts: ", ".join(f"{name} {mib:.1f}" for name, mib in sorted(parts.items(), key=lambda p: -p[1]))
    median = {}
    for name, rounds in results.items():
        for i, (total, parts, buffers) in enumerate(rounds):
            print(f"{name}, round {i + 1}: {total:.1f} MiB PSS ({show(parts)}; {buffers} frame buffers)")
        median[name] = statistics.median(total for total, _, _ in rounds)
    print()
    for name, mib in median.items():
        print(f"median {name}: {mib:.1f} MiB")
    print(f"\nratio, twitcher / bare window: {median['twitcher'] / median['bare window']:.3f} (goal ≤ 1.15)")
    print(f"ratio with compositing off in both: {median['twitcher, compositing off'] / median['bare window, compositing off']:.3f}")
    # Like for like: the rounds in which both kept the same number of frame buffers.
    for buffers in sorted({b for _, _, b in results["twitcher"]} & {b for _, _, b in results["bare window"]}):
        mine = statistics.median(t for t, _, b in results["twitcher"] if b == buffers)
        bare_ = statistics.median(t for t, _, b in results["bare window"] if b == buffers)
        print(f"ratio with {buffers} frame buffers in both: {mine / bare_:.3f} ({mine:.1f} / {bare_:.1f} MiB)")
    print(f"start-up order: {startup_order_coverage(twitcher)}")

if __name__ == "__main__":
    main()
