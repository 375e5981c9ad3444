#!/usr/bin/env bash
# Sets up this machine and runs every test: Rust unit and integration tests (core, CLI, bindings)
# against a real Secret Service, the UI type check, and the real app window end to end under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

export CARGO_TERM_COLOR=never
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
export TWITCHER_E2E_APP="$target_dir/debug/twitcher-desktop"

echo "==> building the UI and the app"
npm run ui:check
npm run ui:build
cargo build --workspace --bins --tests
echo "==> the .deb and .rpm packages (one release build; e2e/deb.test.mjs installs the .deb, e2e/rpm.test.mjs reads the .rpm)"
npm run tauri -- build --bundles deb,rpm

# Everything below runs in a private D-Bus session with an unlocked gnome-keyring, and with XDG
# folders in a temp dir so nothing touches the home folder.
sandbox=$(mktemp -d)
cleanup() { rm -rf "$sandbox" 2>/dev/null || true; }
trap cleanup EXIT
export TWITCHER_TEST_SANDBOX="$sandbox"
mkdir -p "$sandbox"/{data,cache,config,runtime}
chmod 700 "$sandbox/runtime"
export XDG_DATA_HOME="$sandbox/data" XDG_CACHE_HOME="$sandbox/cache" XDG_CONFIG_HOME="$sandbox/config"
export XDG_RUNTIME_DIR="$sandbox/runtime" NO_AT_BRIDGE=1 TWITCHER_TEST_SECRET_SERVICE=1
export TWITCHER_TEST_MOTO_SERVER="$PWD/.venv-test/bin/moto_server"
export TWITCHER_TEST_SCHEMATHESIS="$PWD/.venv-test/bin/st"
mkdir -p "$target_dir/e2e"

dbus-run-session --config-file="$PWD/scripts/session-bus.conf" -- bash -euo pipefail -c '
  eval "$(printf %s twitcher-test | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  echo "==> Rust tests (cargo nextest: a deadline per test, see .config/nextest.toml)"
  cargo nextest run --workspace --no-tests=fail
  echo "==> the core suite again on PostgreSQL (a throwaway cluster from pg_virtualenv), and the CLI on it"
  pg_virtualenv env TWITCHER_TEST_POSTGRES=1 cargo nextest run --workspace --no-tests=fail \
    -E "package(twitcher-core) | binary_id(twitcher-cli::postgres) | binary_id(twitcher-cli::fleet)"
  echo "==> end-to-end: the real window under Xvfb"
  # Xvfb picks a free display and writes its number to fd 3.
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$TWITCHER_TEST_SANDBOX/display" 2>/dev/null &
  xvfb=$!
  trap "kill $xvfb 2>/dev/null || true" EXIT
  for _ in $(seq 100); do [ -s "$TWITCHER_TEST_SANDBOX/display" ] && break; sleep 0.1; done
  export DISPLAY=":$(cat "$TWITCHER_TEST_SANDBOX/display")"
  # Every process a test starts is recorded here (e2e/processes.mjs) and swept afterwards.
  export TWITCHER_E2E_PIDS="$TWITCHER_TEST_SANDBOX/e2e-pids"
  : >"$TWITCHER_E2E_PIDS"
  running="$TWITCHER_TEST_SANDBOX/e2e-running"
  limit=${TWITCHER_E2E_LIMIT_S:-1800}
  status=0
  # A test may take 4 min (the slowest takes about a minute); the whole stage ${limit} s.
  timeout --kill-after=30 "$limit" node --test --test-concurrency=1 --test-timeout=240000 --test-force-exit \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=./e2e/running-reporter.mjs --test-reporter-destination="$running" e2e/ || status=$?
  if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "error: the end-to-end stage passed its limit of ${limit} s; it was running:" >&2
    grep "^start" "$running" | tail -n 2 >&2 || true
  fi
  node e2e/sweep.mjs "$TWITCHER_E2E_PIDS" || status=1
  exit "$status"
'
