#!/usr/bin/env python3
"""A long run loses nothing: one `twitcher serve`, a looping video to 6 destinations for an hour.

Two local nginx-rtmp ingests: a steady one carrying 4 destinations, and one restarted every 10
minutes carrying 2 (its destinations reconnect; the steady ones must not notice). Throughout, a
client calls the API every 2 s (streams, videos, health) and a player (ffprobe) watches each
steady destination. At the end it prints:
- serve's RSS after the first minute and at the end (goal: growth under 5 %);
- the source's drift: how far the steady players' media time moved against the wall clock between
  the first and the last minute (goal: under 100 ms);
- reconnects per destination (the API's counters; the restarted ingest's are expected);
- frames lost on the steady destinations (gaps in their video timestamps; goal: 0), and the API
  calls made and failed.

With --chaos (issue 29), every --chaos-every minutes it also stops serve with SIGSTOP for 15 s
and resumes it (health must answer 503 while its tasks are late, then 200 again), and kills any
FFmpeg child serve has; it prints each fault's time back to healthy. At the start (after the first
minute) and the end it prints serve's RSS, open files, the data dir's disk use and the restarts of
its supervised tasks (from /api/health): growth of RSS and open files under 5 %.

Not in CI (an hour or more). Usage:
  python3 bench/soak.py [path/to/twitcher] [--minutes 60 | --hours H] [--restart-every 10] [--chaos [--chaos-every 7]]
(default binary: target/release/twitcher, built if missing). Needs ffmpeg and nginx with
libnginx-mod-rtmp (scripts/setup.sh --test installs them).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from ingest import free_port, start_nginx  # bench/ingest.py: the script's folder is on the path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FPS = 30
QUALITY = {"fps": FPS, "video_bitrate_k": 800, "audio_bitrate_k": 128, "resolution": "640x360"}
STEADY, RESTARTED = 4, 2


def api(base, token, method, path, body=None):
    request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def open_files(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def disk_mib(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total / 1024 / 1024


def health(base):
    """(HTTP status, the health body): 503 is an answer too."""
    try:
        with urllib.request.urlopen(base + "/api/health", timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def task_restarts(base):
    _, body = health(base)
    return sum(t["restarts"] for t in (body or {}).get("tasks", []))


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Player:
    """ffprobe playing one destination, each video packet's (wall clock, dts) kept as it arrives.
    A player that ends (it should not, on the steady ingest) is started again and counted."""

    def __init__(self, url):
        self.url, self.packets, self.restarts, self.stopped = url, [], 0, False
        self.proc = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped:
            # stdbuf: ffprobe 5 writes with stdio, fully buffered into a pipe; a line per packet
            # is needed to read the arrival time.
            self.proc = subprocess.Popen(["stdbuf", "-oL", "ffprobe", "-v", "error", "-select_streams", "v:0",
                                          "-show_entries", "packet=dts_time", "-of", "csv=p=0", self.url],
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in self.proc.stdout:
                try:
                    self.packets.append((time.monotonic(), float(line.strip().rstrip(","))))
                except ValueError:
                    pass
            self.proc.wait()
            if not self.stopped:
                self.restarts += 1
                time.sleep(0.5)

    def stop(self):
        self.stopped = True
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
        self.thread.join(timeout=10)

    def lost_frames(self, after):
        """Frames missing between consecutive packets that arrived after `after`."""
        dts = [d for t, d in self.packets if t >= after]
        frame = 1 / FPS
        return sum(max(0, round((b - a) / frame) - 1) for a, b in zip(dts, dts[1:]) if b - a > 1.5 * frame)

    def offset(self, start, end):
        """Median of (media time − wall time) over the packets that arrived in [start, end)."""
        values = [d - t for t, d in self.packets if start <= t < end]
        return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("twitcher", nargs="?", default=os.path.join(ROOT, "target/release/twitcher"))
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--hours", type=float, help="the run's length in hours (instead of --minutes)")
    parser.add_argument("--restart-every", type=float, default=10, help="minutes between restarts of the second ingest")
    parser.add_argument("--chaos", action="store_true", help="also stop serve for 15 s and kill its FFmpeg children, every --chaos-every minutes")
    parser.add_argument("--chaos-every", type=float, default=7)
    args = parser.parse_args()
    if args.hours:
        args.minutes = args.hours * 60
    if not os.path.exists(args.twitcher):
        subprocess.run(["cargo", "build", "--release", "-p", "twitcher-cli"], cwd=ROOT, check=True)

    work = tempfile.mkdtemp(prefix="twitcher-soak-")
    os.makedirs(f"{work}/steady")
    os.makedirs(f"{work}/restarted")
    steady, steady_port = start_nginx(f"{work}/steady")
    restarted_port = free_port()
    restarted, _ = start_nginx(f"{work}/restarted", restarted_port)
    env = dict(os.environ, TWITCHER_KEYRING="file")
    env.pop("TWITCHER_PROFILE", None)
    data = f"{work}/data"

    def cli(*a, stdin=None):
        out = subprocess.run([args.twitcher, "--data-dir", data, "--json", *a], env=env, input=stdin, check=True, capture_output=True, text=True)
        return json.loads(out.stdout)

    serve = None
    players = []
    try:
        print("making a 60 s source and preparing it …", flush=True)
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={FPS}", "-f", "lavfi", "-i", "sine=sample_rate=48000",
                        "-t", "60", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", f"{work}/source.mp4"], check=True)
        uuid = cli("profile", "create", "--name", "Soak")["uuid"]
        cli("profile", "set-plan", uuid, "ENTERPRISE")  # FREE links 3 accounts
        video = cli("video", "import", f"{work}/source.mp4")[0]["id"]
        cli("video", "prepare", str(video), "--resolution", QUALITY["resolution"], "--fps", str(FPS),
            "--video-bitrate", str(QUALITY["video_bitrate_k"]), "--audio-bitrate", str(QUALITY["audio_bitrate_k"]))
        ports = [steady_port] * STEADY + [restarted_port] * RESTARTED
        keys = [f"live_soak_{i:04d}_key" for i in range(len(ports))]
        accounts = [cli("account", "add", "--name", f"Soak {i}", "--channel-id", str(3000 + i), "--ingest", f"rtmp://127.0.0.1:{port}/app",
                        stdin=f"{key}\n")["id"] for i, (port, key) in enumerate(zip(ports, keys))]

        serve = subprocess.Popen([args.twitcher, "--data-dir", data, "--json", "serve", "--listen", "127.0.0.1:0",
                                  "--allow-ingest", f"127.0.0.1:{steady_port}", "--allow-ingest", f"127.0.0.1:{restarted_port}"],
                                 env=env, stdout=subprocess.PIPE, stderr=open(f"{work}/serve.log", "w"), text=True)
        base = "http://" + json.loads(serve.stdout.readline())["listening"]
        token = api(base, None, "POST", "/api/auth/login", {"uuid": uuid})["token"]
        players = [Player(f"rtmp://127.0.0.1:{steady_port}/app/{key}") for key in keys[:STEADY]]
        body = {"video_id": video, "account_ids": accounts, "loop": True, "title": "Soak", **QUALITY}
        broadcast = api(base, token, "POST", "/api/streams/start", body)["broadcast_id"]
        print(f"streaming to {len(accounts)} destinations for {args.minutes:g} min (work dir {work}) …", flush=True)

        begin = time.monotonic()
        end = begin + args.minutes * 60
        next_restart = begin + args.restart_every * 60
        next_chaos = begin + args.chaos_every * 60
        calls = failures = restarts = 0
        rss_start = None
        faults = []  # (what, seconds unhealthy seen, seconds back to 200)
        while time.monotonic() < end:
            now = time.monotonic()
            if rss_start is None and now - begin >= 60:
                rss_start = rss_mib(serve.pid)
                fds_start, disk_start, tasks_start = open_files(serve.pid), disk_mib(data), task_restarts(base)
            if args.chaos and now >= next_chaos:
                next_chaos += args.chaos_every * 60
                killed = subprocess.run(["pkill", "-KILL", "-P", str(serve.pid), "ffmpeg"]).returncode == 0
                serve.send_signal(signal.SIGSTOP)
                time.sleep(15)
                serve.send_signal(signal.SIGCONT)
                resumed, saw_503 = time.monotonic(), False
                while True:
                    status, _ = health(base)
                    saw_503 |= status == 503
                    if status == 200 and time.monotonic() - resumed > 1:
                        break
                    if time.monotonic() - resumed > 120:
                        print("  health not back to 200 within 2 min after a stop", flush=True)
                        break
                    time.sleep(0.5)
                back = time.monotonic() - resumed
                faults.append(("stopped 15 s" + (", FFmpeg killed" if killed else ""), saw_503, back))
                print(f"  {(now - begin) / 60:5.1f} min: stopped serve 15 s{' and killed FFmpeg' if killed else ''}: "
                      f"503 seen: {saw_503}, healthy again after {back:.1f} s", flush=True)
            if now >= next_restart:
                restarted.terminate()
                restarted.wait()
                time.sleep(2)
                restarted, _ = start_nginx(f"{work}/restarted", restarted_port)
                restarts += 1
                next_restart += args.restart_every * 60
                print(f"  {(now - begin) / 60:5.1f} min: restarted the second ingest", flush=True)
            for path in ("/api/streams", "/api/videos", "/api/health"):
                calls += 1
                try:
                    api(base, token, "GET", path)
                except Exception as e:  # counted, and the run goes on: a failure here is a finding
                    failures += 1
                    print(f"  API {path} failed: {e}", flush=True)
            time.sleep(2)
        finished = time.monotonic()
        rss_end = rss_mib(serve.pid)
        fds_end, disk_end, tasks_end = open_files(serve.pid), disk_mib(data), task_restarts(base)
        rows = [r for r in api(base, token, "GET", "/api/streams") if r["broadcast_id"] == broadcast]
        api(base, token, "POST", "/api/streams/stop", {"broadcast_id": broadcast})
    finally:
        for p in players:
            p.stop()
        if serve and serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
        for n in (steady, restarted):
            n.terminate()
            n.wait()

    warm = begin + 60
    print()
    print(f"serve RSS: {rss_start:.1f} MiB after the first minute, {rss_end:.1f} MiB at the end "
          f"({(rss_end / rss_start - 1) * 100:+.1f} %; goal < +5 %)")
    print(f"open files: {fds_start} after the first minute, {fds_end} at the end ({(fds_end / fds_start - 1) * 100:+.1f} %; goal < +5 %)")
    print(f"data dir on disk: {disk_start:.1f} MiB, then {disk_end:.1f} MiB")
    print(f"supervised task restarts (from /api/health): {tasks_start} after the first minute, {tasks_end} at the end")
    if faults:
        print("faults: " + "; ".join(f"{what} (503 seen: {seen}, healthy after {back:.1f} s)" for what, seen, back in faults))
    drifts = []
    for p in players:
        first, last = p.offset(warm, warm + 60), p.offset(finished - 60, finished)
        if first is not None and last is not None:
            drifts.append((last - first) * 1000)
    print("drift of the steady players' media time against the wall clock, first to last minute: "
          + ", ".join(f"{d:+.1f} ms" for d in drifts) + " (goal: under 100 ms)")
    by_account = {a: i for i, a in enumerate(accounts)}
    print("reconnects: " + ", ".join(f"{'steady' if by_account[r['account_id']] < STEADY else 'restarted'} {r['reconnects']}"
                                     for r in sorted(rows, key=lambda r: by_account[r["account_id"]])) + f" (the second ingest restarted {restarts} times)")
    print("frames lost on the steady destinations: " + ", ".join(str(p.lost_frames(begin + 10)) for p in players)
          + f" (goal 0); players restarted: {sum(p.restarts for p in players)}")
    print(f"API calls: {calls}, failed: {failures}")
    print(f"statuses at the end: {sorted(r['status'] for r in rows)}")


if __name__ == "__main__":
    main()
