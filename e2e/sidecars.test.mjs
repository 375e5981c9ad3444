// scripts/sidecars.sh for other targets: a folder of a foreign triple's ffmpeg/ffprobe
// (FFMPEG_SIDECAR_SOURCE) becomes binaries/twitcher-<tool>-<triple>[.exe], and a binary of the
// wrong format or architecture is refused before anything is written. The binaries here are made
// up: just the headers `file` reads (PE for Windows, Mach-O for macOS, ELF for Linux).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

function pe(machine) {
  const b = Buffer.alloc(512);
  b.write("MZ", 0, "latin1");
  b.writeUInt32LE(0x40, 0x3c);
  b.write("PE\0\0", 0x40, "latin1");
  b.writeUInt16LE(machine, 0x44);
  b.writeUInt16LE(0xf0, 0x54); // optional header size
  b.writeUInt16LE(0x22, 0x56); // executable
  b.writeUInt16LE(0x20b, 0x58); // PE32+
  b.writeUInt16LE(3, 0x58 + 68); // console subsystem
  return b;
}
function macho(cpu) {
  const b = Buffer.alloc(288);
  b.writeUInt32LE(0xfeedfacf, 0);
  b.writeUInt32LE(cpu, 4);
  b.writeUInt32LE(2, 12); // an executable
  return b;
}
function elf(machine) {
  const b = Buffer.alloc(64);
  b.write("\x7fELF", 0, "latin1");
  b.writeUInt8(2, 4);
  b.writeUInt8(1, 5);
  b.writeUInt8(1, 6);
  b.writeUInt16LE(2, 16);
  b.writeUInt16LE(machine, 18);
  return b;
}
const X64 = 0x8664, ARM64_PE = 0xaa64, MACHO_ARM64 = 0x0100000c, MACHO_X64 = 0x01000007, ELF_X64 = 0x3e;

/// Runs the script for `triple` with a folder holding `files`; returns its exit status, stderr and
/// what it wrote.
function sidecars(triple, files) {
  const dir = mkdtempSync(path.join(tmpdir(), "sidecars-"));
  mkdirSync(path.join(dir, "source"));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, "source", name), bytes, { mode: 0o755 });
  const env = { ...process.env, FFMPEG_SIDECAR_SOURCE: path.join(dir, "source"), SIDECAR_OUT_DIR: path.join(dir, "out") };
  let status = 0, stderr = "";
  try {
    execFileSync("bash", ["scripts/sidecars.sh", triple], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    status = e.status;
    stderr = e.stderr;
  }
  let written = [];
  try {
    written = readdirSync(path.join(dir, "out")).sort();
  } catch {}
  return { status, stderr, written, read: (name) => readFileSync(path.join(dir, "out", name)) };
}

test("a Windows build's binaries become the .exe sidecars of the Windows triple", () => {
  const r = sidecars("x86_64-pc-windows-msvc", { "ffmpeg.exe": pe(X64), "ffprobe.exe": pe(X64) });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.written, ["twitcher-ffmpeg-x86_64-pc-windows-msvc.exe", "twitcher-ffprobe-x86_64-pc-windows-msvc.exe"]);
  assert.deepEqual(r.read("twitcher-ffmpeg-x86_64-pc-windows-msvc.exe"), pe(X64));
});

test("a macOS arm64 build's binaries become the Apple silicon sidecars", () => {
  const r = sidecars("aarch64-apple-darwin", { ffmpeg: macho(MACHO_ARM64), ffprobe: macho(MACHO_ARM64) });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.written, ["twitcher-ffmpeg-aarch64-apple-darwin", "twitcher-ffprobe-aarch64-apple-darwin"]);
});

test("a binary of another architecture or system is refused and nothing is written", () => {
  for (const [triple, files, says] of [
    ["aarch64-apple-darwin", { ffmpeg: macho(MACHO_X64), ffprobe: macho(MACHO_ARM64) }, "x86_64"],
    ["x86_64-pc-windows-msvc", { "ffmpeg.exe": pe(X64), "ffprobe.exe": pe(ARM64_PE) }, "Aarch64"],
    ["x86_64-pc-windows-msvc", { "ffmpeg.exe": elf(ELF_X64), "ffprobe.exe": pe(X64) }, "ELF"],
    ["x86_64-unknown-linux-gnu", { ffmpeg: pe(X64), ffprobe: elf(ELF_X64) }, "PE32+"],
  ]) {
    const r = sidecars(triple, files);
    assert.equal(r.status, 1, `${triple}: ${JSON.stringify(r)}`);
    assert.match(r.stderr, new RegExp(`is not a ${triple} executable: it is '.*${says}`), r.stderr);
    assert.deepEqual(r.written, [], `${triple}: nothing written`);
  }
});

test("another target without a folder of its binaries is refused with what to do", () => {
  const r = sidecars("aarch64-apple-darwin", {});
  assert.equal(r.status, 1);
  assert.match(r.stderr, /ffmpeg not found \(FFMPEG_SIDECAR_SOURCE holds ffmpeg for aarch64-apple-darwin\)/);
  const noFolder = (() => {
    try {
      execFileSync("bash", ["scripts/sidecars.sh", "aarch64-apple-darwin"], { env: { ...process.env, FFMPEG_SIDECAR_SOURCE: "", SIDECAR_OUT_DIR: mkdtempSync(path.join(tmpdir(), "sc-")) }, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
      return "";
    } catch (e) {
      return e.stderr;
    }
  })();
  assert.match(noFolder, /is not this machine's target .*: set FFMPEG_SIDECAR_SOURCE/);
});
