// The .rpm that `npm run tauri build` makes beside the .deb (scripts/test.sh builds both): read with
// Debian's rpm tools (it cannot be installed here), its files, the FFmpeg sidecars inside (the same
// bytes as binaries/), and the libraries it declares, so an rpm-based system pulls them in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { app, run } from "./harness.mjs";

const rpmDir = path.join(path.dirname(path.dirname(app)), "release/bundle/rpm");
const query = (...args) => run("rpm", ["-qp", ...args]);

test("the .rpm holds the app, its sidecars and menu entry, and declares the libraries they need", () => {
  const rpm = readdirSync(rpmDir).find((f) => f.endsWith(".rpm"));
  assert.ok(rpm, `no .rpm in ${rpmDir}: scripts/test.sh builds it with npm run tauri build`);
  const file = path.join(rpmDir, rpm);
  assert.equal(query("--qf", "%{NAME} %{ARCH}", file), "twitcher x86_64");

  const files = query("-l", file).split("\n");
  for (const expected of ["/usr/bin/twitcher-desktop", "/usr/bin/twitcher-ffmpeg", "/usr/bin/twitcher-ffprobe", "/usr/share/applications/Twitcher.desktop"]) {
    assert.ok(files.includes(expected), `${expected} missing from ${files.join(", ")}`);
  }
  assert.ok(files.some((f) => f.endsWith("/licenses/FFMPEG-NOTICE.txt")), "FFmpeg's licence notice ships with it");
  // --dump: path size mtime digest mode …: the sidecars are the ones scripts/sidecars.sh prepared.
  const digests = Object.fromEntries(query("--dump", file).split("\n").filter(Boolean).map((l) => l.split(" ")).map((f) => [f[0], f[3]]));
  for (const tool of ["ffmpeg", "ffprobe"]) {
    const prepared = readFileSync(`binaries/twitcher-${tool}-x86_64-unknown-linux-gnu`);
    assert.equal(digests[`/usr/bin/twitcher-${tool}`], createHash("sha256").update(prepared).digest("hex"), `${tool} in the rpm is not binaries/'s`);
  }

  const requires = query("-R", file).split("\n").map((l) => l.trim());
  for (const lib of ["libavcodec.so.59()(64bit)", "libavformat.so.59()(64bit)", "libavfilter.so.8()(64bit)", "libswscale.so.6()(64bit)"]) {
    assert.ok(requires.includes(lib), `${lib} not required: ${requires.join(", ")}`);
  }
  assert.ok(requires.includes("libwebkit2gtk-4.1.so.0()(64bit)"), `the WebKitGTK it runs on: ${requires.join(", ")}`);
});
