#!/usr/bin/env python3
"""Streaming cost: Twitcher's engine against ffmpeg's tee muxer, measured in one run.

Streams a prepared 15 s 1080p30 6000 kbps file to 1, 6 and 50 destinations on a local nginx-rtmp,
once with `twitcher stream start` and once with
`ffmpeg -re -i PREPARED -map 0 -c copy -f tee "[f=flv:onfail=ignore]rtmp://…|…"`, and prints the
CPU-seconds (user + system) and peak RSS of each process, with Twitcher's CPU as a ratio of
ffmpeg's. Then streams the same video unprepared (`--live-encode`: one real-time encode, 720p30)
to 1 and to 6 destinations: the encode is paid once, so 6 should cost about what 1 does.
Goals (issue 5): ≤ 0.5× at 6, ≤ 0.3× at 50, peak RSS at 50 under 32 MiB, live encode at 6 ≤ 1.05×
live encode at 1.

Usage: python3 bench/fanout.py [path/to/twitcher]   (default: target/release/twitcher, built if missing)
Needs ffmpeg and nginx with libnginx-mod-rtmp (scripts/setup.sh --test installs them).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from ingest import start_nginx  # bench/ingest.py: the script's folder is on the path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNTS = [1, 6, 50]
SECONDS = 15



def measure(args, **kw):
    """Runs a command to the end; returns (cpu seconds, peak RSS in MiB, wall seconds, user s, system s)."""
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{args[0]} exited with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, time.monotonic() - start, usage.ru_utime, usage.ru_stime


def main():
    twitcher = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/twitcher")
    if not os.path.exists(twitcher):
        subprocess.run(["cargo", "build", "--release", "-p", "twitcher-cli"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="twitcher-bench-")
    nginx, port = start_nginx(work)
    try:
        env = dict(os.environ, TWITCHER_KEYRING="file")
        tw = lambda *a, **kw: subprocess.run([twitcher, "--data-dir", f"{work}/data", *a], env=env, check=True, capture_output=True, text=True, **kw)
        print("making a 15 s 1080p30 6000 kbps source …", flush=True)
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-f", "lavfi", "-i", "sine=sample_rate=48000",
                        "-t", str(SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
                        "-b:v", "6000k", "-maxrate", "6000k", "-bufsize", "12000k", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
                        "-c:a", "aac", "-b:a", "160k", "-ac", "2", f"{work}/source.mp4"], check=True)
        uuid = json.loads(tw("--json", "profile", "create").stdout)["uuid"]
        tw("profile", "set-plan", uuid, "ENTERPRISE")
        video = json.loads(tw("--json", "video", "import", f"{work}/source.mp4").stdout)[0]["id"]
        quality = ["--resolution", "1920x1080", "--fps", "30", "--video-bitrate", "6000", "--audio-bitrate", "160"]
        prepared = json.loads(tw("--json", "video", "prepare", str(video), *quality).stdout)["path"]
        accounts = []
        for i in range(max(COUNTS)):
            out = tw("--json", "account", "add", "--name", f"Bench {i}", "--channel-id", str(1000 + i),
                     "--ingest", f"rtmp://127.0.0.1:{port}/app", input=f"live_bench_{i:04d}_key\n")
            accounts.append(str(json.loads(out.stdout)["id"]))

        rows = []
        for n in COUNTS:
            args = [twitcher, "--data-dir", f"{work}/data", "stream", "start", "--video", str(video), *quality]
            for a in accounts[:n]:
                args += ["--account", a]
            print(f"twitcher → {n} …", flush=True)
            ours = measure(args, env=env)
            outputs = "|".join(f"[f=flv:onfail=ignore]rtmp://127.0.0.1:{port}/app/tee_{n}_{i}" for i in range(n))
            print(f"ffmpeg tee → {n} …", flush=True)
            theirs = measure(["ffmpeg", "-v", "error", "-re", "-i", prepared, "-map", "0", "-c", "copy", "-f", "tee", outputs])
            rows.append((n, ours, theirs))
        # Not prepared at this quality: a live encode feeds every destination.
        live_quality = ["--resolution", "1280x720", "--fps", "30", "--video-bitrate", "3000", "--audio-bitrate", "160"]
        live = []
        for n in (1, 6):
            args = [twitcher, "--data-dir", f"{work}/data", "stream", "start", "--live-encode", "--video", str(video), *live_quality]
            for a in accounts[:n]:
                args += ["--account", a]
            print(f"twitcher live encode → {n} …", flush=True)
            live.append((n, measure(args, env=env)))
    finally:
        nginx.terminate()
        nginx.wait()

    print()
    print(f"{'dest':>4}  {'twitcher cpu s':>14}  {'(user/sys)':>11}  {'ffmpeg cpu s':>12}  {'(user/sys)':>11}  {'ratio':>6}  {'twitcher MiB':>12}  {'ffmpeg MiB':>10}  {'wall s':>7}")
    for n, (cpu, rss, wall, usr, sys_), (fcpu, frss, _, fusr, fsys) in rows:
        print(f"{n:>4}  {cpu:>14.2f}  {usr:>5.2f}/{sys_:<5.2f}  {fcpu:>12.2f}  {fusr:>5.2f}/{fsys:<5.2f}  {cpu / fcpu:>6.2f}  {rss:>12.1f}  {frss:>10.1f}  {wall:>7.1f}")
    (_, (cpu1, rss1, *_)), (_, (cpu6, rss6, *_)) = live
    print(f"\nlive encode (720p30, with its ffmpeg): 1 → {cpu1:.2f} cpu s, {rss1:.1f} MiB; 6 → {cpu6:.2f} cpu s, {rss6:.1f} MiB; ratio {cpu6 / cpu1:.3f}")
    print("\ngoals: ratio ≤ 0.50 at 6 and ≤ 0.30 at 50; twitcher peak RSS at 50 < 32 MiB; live encode 6/1 ≤ 1.05")
    print("(twitcher's figures include its start: opening the database, the vault, reading the file's headers)")


if __name__ == "__main__":
    main()
