#!/usr/bin/env bash
# Prepares the FFmpeg sidecars that the desktop bundle ships (tauri.conf.json → bundle.externalBin):
# binaries/twitcher-ffmpeg-<target> and binaries/twitcher-ffprobe-<target> (with .exe for Windows).
#
#   scripts/sidecars.sh [TARGET-TRIPLE]
#
# TARGET-TRIPLE defaults to TAURI_ENV_TARGET_TRIPLE (set by `tauri build --target …`), else the
# host's. The binaries come from FFMPEG_SIDECAR_SOURCE=/dir (a folder holding `ffmpeg` and
# `ffprobe`, or `ffmpeg.exe`/`ffprobe.exe`: a static build for that target, see docs/install.md's
# "FFmpeg sidecars"), or for the host only from PATH (Debian's ffmpeg package, linked against its
# libav* libraries, which the .deb and .rpm therefore depend on). Each binary's format is checked
# against the triple (`file`), so a Linux build never ships as the Windows sidecar. Named
# twitcher-* so that installing next to /usr/bin/ffmpeg never clashes with the ffmpeg package.
# SIDECAR_OUT_DIR changes where they go (the tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
target=${1:-${TAURI_ENV_TARGET_TRIPLE:-$host}}
out_dir=${SIDECAR_OUT_DIR:-binaries}

# What `file -b` says of an executable for the triple: its format, then its architecture.
case "$target" in
  *-windows-*) format='PE32\+? executable'; ext=.exe ;;
  *-apple-darwin) format='Mach-O'; ext= ;;
  *-linux-*) format='ELF'; ext= ;;
  *) echo "sidecars.sh: no sidecar format known for target '$target'" >&2; exit 1 ;;
esac
case "$target" in
  x86_64-*) arch='x86-64|x86_64' ;;
  aarch64-*) arch='aarch64|arm64|Aarch64|ARM64' ;;
  i686-*) arch='Intel 80386|Intel i386' ;;
  *) echo "sidecars.sh: no sidecar architecture known for target '$target'" >&2; exit 1 ;;
esac

# Both are checked before either is copied: a refused pair leaves the folder as it was. (Plain
# arrays: macOS runs bash 3.2.)
sources=()
for tool in ffmpeg ffprobe; do
  if [ -n "${FFMPEG_SIDECAR_SOURCE:-}" ]; then
    source="$FFMPEG_SIDECAR_SOURCE/$tool$ext"
    [ -f "$source" ] || { echo "sidecars.sh: $source not found (FFMPEG_SIDECAR_SOURCE holds $tool$ext for $target)" >&2; exit 1; }
  elif [ "$target" = "$host" ]; then
    source=$(command -v "$tool") || { echo "sidecars.sh: no $tool on PATH (install ffmpeg, or set FFMPEG_SIDECAR_SOURCE)" >&2; exit 1; }
  else
    echo "sidecars.sh: $target is not this machine's target ($host): set FFMPEG_SIDECAR_SOURCE to a folder of its static ffmpeg build" >&2
    exit 1
  fi
  kind=$(file -b -L "$source")
  # A macOS universal binary holds every architecture.
  if ! { echo "$kind" | grep -Eq "^$format" && { echo "$kind" | grep -Eq "$arch" || echo "$kind" | grep -q 'universal binary'; }; }; then
    echo "sidecars.sh: $source is not a $target executable: it is '$kind'" >&2
    exit 1
  fi
  sources+=("$source")
done

mkdir -p "$out_dir"
for i in 0 1; do
  tool=$([ "$i" = 0 ] && echo ffmpeg || echo ffprobe)
  source=${sources[$i]}
  out="$out_dir/twitcher-$tool-$target$ext"
  if [ ! -x "$out" ] || ! cmp -s "$source" "$out"; then
    cp "$source" "$out"
    chmod 755 "$out"
    echo "==> sidecar $out from $source"
  fi
done
