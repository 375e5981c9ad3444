#!/usr/bin/env bash
# Sets up this machine and launches the Twitcher desktop app with its defaults: data in the
# platform data dir (or TWITCHER_DATA_DIR), the OS keyring, FFmpeg from the system.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run ui:build
exec cargo run --bin twitcher-desktop
