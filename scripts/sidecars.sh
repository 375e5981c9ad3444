#!/usr/bin/env bash
# Prepares the FFmpeg sidecars that the desktop bundle ships (tauri.conf.json → bundle.externalBin):
# binaries/twitcher-ffmpeg-<target> and binaries/twitcher-ffprobe-<target>, from Debian's ffmpeg
# package (or whatever `ffmpeg`/`ffprobe` PATH has; FFMPEG_SIDECAR_SOURCE=/dir picks another folder,
# e.g. a static build). Debian's binaries are linked against its libav* libraries, which the .deb
# therefore depends on (bundle.linux.deb.depends). Named twitcher-* so that installing next to
# /usr/bin/ffmpeg never clashes with the ffmpeg package.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${TAURI_ENV_TARGET_TRIPLE:-$(rustc -vV | sed -n 's/^host: //p')}
mkdir -p binaries
for tool in ffmpeg ffprobe; do
  if [ -n "${FFMPEG_SIDECAR_SOURCE:-}" ]; then source="$FFMPEG_SIDECAR_SOURCE/$tool"; else source=$(command -v "$tool"); fi
  out="binaries/twitcher-$tool-$target"
  if [ ! -x "$out" ] || ! cmp -s "$source" "$out"; then
    cp "$source" "$out"
    chmod 755 "$out"
    echo "==> sidecar $out from $source"
  fi
done
