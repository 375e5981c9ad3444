#!/usr/bin/env bash
# Type-checks the workspace for Windows on this Linux machine: the code behind cfg(windows) (the
# job object for FFmpeg, the key file's ACL, Ctrl+Close handling, the Credential Manager store)
# and the core's and CLI's unit tests, as the installers workflow builds them.
#
# rustup cannot fetch another target's standard library here, so this uses Debian's rustc-web
# (a recent rustc) with its standard library's sources (rust-web-src): cargo builds std for the
# target itself (-Zbuild-std, allowed on a stable compiler by RUSTC_BOOTSTRAP=1), and mingw-w64
# compiles the C dependencies (SQLite, aws-lc). It checks, it does not link or run: that is the
# workflow's job on a Windows runner. macOS cannot be checked this way (no macOS SDK for the C and
# Objective-C parts). Not part of the test command (about 10 minutes cold, half a gigabyte of
# packages); run it after touching platform code:
#
#   ./scripts/cross-check.sh [TARGET]      (default x86_64-pc-windows-gnu)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-x86_64-pc-windows-gnu}

. scripts/apt.sh
install_missing rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64

# tauri-build wants the target's sidecars to exist; empty stand-ins do for a check (and are
# removed again, whatever happens).
placeholders=()
for tool in ffmpeg ffprobe; do
  f="binaries/twitcher-$tool-$target.exe"
  if [ ! -e "$f" ]; then : > "$f"; placeholders+=("$f"); fi
done
trap 'rm -f "${placeholders[@]}"' EXIT

# Debian's cargo and rustc (in /usr/bin), not rustup's; a target dir of its own.
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cross-check}
run() { echo "==> cargo check $*"; /usr/bin/cargo check -Zbuild-std=std,panic_abort --target "$target" "$@"; }
run --workspace
run -p twitcher-core -p twitcher-cli --lib --bins --profile test
echo "==> $target: the workspace and the core's and CLI's unit tests type-check"
