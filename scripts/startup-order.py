#!/usr/bin/env python3
"""Writes src-tauri/startup-order.txt: the functions of twitcher-desktop that start-up and an idle
window run, which release builds on x86-64 Linux lay out next to each other (src-tauri/build.rs).

Why: start-up runs ~3.5 MB of the binary's 24 MB of code, spread all over it, and the kernel maps
64 KiB around every page fault, so ~15 MiB of code stayed resident in an idle window; with the
functions grouped it is about what runs.

How: the release app runs under Valgrind's callgrind on its own Xvfb twice, each until it has
started and idled a while: on a fresh data dir (the sign-in screen) and with a profile signed in
(the dashboard). Every function of the binary that ran is written by its symbol name, in the
order of its address in the profiled build (related code stays together).

When: after a dependency update or a large change. Symbol names carry hashes of the crate and its
dependencies, so the file goes stale; a stale file costs memory, never a build (names the build
does not have are skipped). `bench/window_memory.py` prints how much of the file the binary
still has.

Usage: python3 scripts/startup-order.py   (CARGO_TARGET_DIR is honoured; RUN_SECONDS per run, 90)
Builds the UI, twitcher-desktop in release and the CLI in debug first (or TWITCHER_CLI names a built one); installs valgrind and Xvfb if missing.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "src-tauri/startup-order.txt")
RUN_SECONDS = int(os.environ.get("RUN_SECONDS", 90))


def executed_functions(binary, env, profile_file):
    """Symbol names of `binary`'s functions that ran while it started and idled under callgrind."""
    display = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    number = display.stdout.readline().strip()
    app = subprocess.Popen(["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={profile_file}", binary],
                           env=dict(env, DISPLAY=f":{number}"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        time.sleep(RUN_SECONDS)
        if app.poll() is not None:
            sys.exit(f"{binary} exited with {app.returncode} under valgrind")
    finally:
        # SIGTERM lets callgrind write its profile.
        os.killpg(app.pid, signal.SIGTERM)
        try:
            app.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()
        display.terminate()
        display.wait()
    return parse_callgrind(profile_file, os.path.basename(binary))


def parse_callgrind(path, object_name):
    """The functions of `object_name` in a callgrind profile (which names repeats as `(id)`)."""
    objects, functions, found = {}, {}, set()

    def name(table, text):
        if text.startswith("("):
            ident, _, rest = text.partition(")")
            if rest:
                table[ident] = rest.strip()
            return table.get(ident, "")
        return text

    current_object = ""
    with open(path, errors="replace") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            if key == "ob":
                current_object = name(objects, value)
            elif key == "cob":
                name(objects, value)
            elif key == "cfn":
                name(functions, value)
            elif key == "fn":
                function = name(functions, value)
                if os.path.basename(current_object) == object_name:
                    found.add(function)
    return found


def main():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    subprocess.run(["bash", "-c", f"source {ROOT}/scripts/apt.sh && install_missing valgrind xvfb"], check=True)
    # The window's UI is compiled into the binary: build it first, as `tauri build` does.
    subprocess.run(["npm", "run", "-s", "ui:build"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "--bin", "twitcher-desktop"], cwd=ROOT, check=True)
    binary = os.path.join(target, "release/twitcher-desktop")
    cli = os.environ.get("TWITCHER_CLI")
    if not cli:
        subprocess.run(["cargo", "build", "--bin", "twitcher"], cwd=ROOT, check=True)
        cli = os.path.join(target, "debug/twitcher")

    work = tempfile.mkdtemp(prefix="twitcher-order-")
    env = dict(os.environ, TWITCHER_KEYRING="file", NO_AT_BRIDGE="1", XDG_CONFIG_HOME=f"{work}/config",
               XDG_CACHE_HOME=f"{work}/cache", XDG_DATA_HOME=f"{work}/share")
    env.pop("TWITCHER_PROFILE", None)
    print("sign-in screen …", flush=True)
    ran = executed_functions(binary, dict(env, TWITCHER_DATA_DIR=f"{work}/fresh"), f"{work}/fresh.callgrind")
    print("dashboard …", flush=True)
    signed_in = dict(env, TWITCHER_DATA_DIR=f"{work}/signed-in")
    subprocess.run([cli, "profile", "create", "--name", "Order"], env=signed_in, check=True, stdout=subprocess.DEVNULL)
    ran |= executed_functions(binary, signed_in, f"{work}/signed-in.callgrind")

    # In address order, with each function's size (for the summary).
    symbols = subprocess.run(["nm", "--numeric-sort", "--print-size", "--defined-only", binary],
                             capture_output=True, text=True, check=True).stdout.splitlines()
    ordered, seen, size = [], set(), 0
    for line in symbols:
        fields = line.split(" ", 3)
        if len(fields) == 4 and fields[2] in "tTwW" and fields[3] in ran:
            if fields[3] not in seen:
                ordered.append(fields[3])
                seen.add(fields[3])
            size += int(fields[1], 16)
    with open(OUTPUT, "w") as f:
        f.write("\n".join(ordered) + "\n")
    print(f"{OUTPUT}: {len(ordered)} functions, {size / 1048576:.1f} MiB of code")


if __name__ == "__main__":
    main()
