#!/usr/bin/env bash
# Installs what Twitcher needs on Debian/Ubuntu: system libraries for the Tauri shell, FFmpeg, npm
# packages, and with --test the services and drivers the test suite runs against.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

. scripts/apt.sh

packages=(build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev libdbus-1-dev file ffmpeg fonts-dejavu-core
  gnome-keyring dbus dbus-x11)
if [ "$want_test" = 1 ]; then
  packages+=(xvfb webkit2gtk-driver at-spi2-core python3-venv openssl nginx libnginx-mod-rtmp libnginx-mod-stream
    trayer xdotool postgresql rpm python3-gi gir1.2-gtk-3.0)
fi
command -v node >/dev/null || packages+=(nodejs npm)

install_missing "${packages[@]}"

if ! command -v cargo >/dev/null; then
  echo "error: Rust is not installed. Install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "error: Node.js $(node --version) is too old: Twitcher's UI build needs Node.js 20 or newer." >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi

# The FFmpeg sidecars the desktop build bundles (it refuses to build without them).
bash scripts/sidecars.sh

# A real S3-compatible server for the storage tests: moto's server mode, pinned (TOOLCHAIN.md:
# 5.1.22 answers ListParts the way the SDK expects; 5.2 does not).
if [ "$want_test" = 1 ] && [ ! -x .venv-test/bin/moto_server ]; then
  echo "==> installing moto (S3 test server) into .venv-test"
  python3 -m venv .venv-test
  .venv-test/bin/pip install --quiet --disable-pip-version-check 'moto[server]==5.1.22'
fi
# python-xlib: the tray test closes the window the way a window manager asks (WM_DELETE_WINDOW);
# jeepney: e2e/notifications.py, the stand-in notification server on the test's D-Bus.
if [ "$want_test" = 1 ] && ! .venv-test/bin/python -c 'import Xlib, jeepney' 2>/dev/null; then
  .venv-test/bin/pip install --quiet --disable-pip-version-check 'python-xlib==0.33' 'jeepney==0.8.0'
fi

# schemathesis: the API's contract test (server/tests/api.rs) generates requests from the OpenAPI
# document; pinned, so a new release's checks do not change the suite's verdict unannounced.
if [ "$want_test" = 1 ] && ! .venv-test/bin/st --version 2>/dev/null | grep -q '4\.32\.5'; then
  .venv-test/bin/pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
fi

# cargo-nextest runs the Rust tests: a process group and a deadline per test (.config/nextest.toml).
if [ "$want_test" = 1 ] && ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
if [ "$want_test" = 1 ] && ! command -v tauri-driver >/dev/null; then
  echo "==> installing tauri-driver"
  cargo install tauri-driver --locked --version '^2'
fi
