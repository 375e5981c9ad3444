//! Running `twitcher` as a real process on a temp data dir, and reading its JSON answers.
#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// `twitcher --data-dir DIR/data ARGS...`, with the key file store (no keyring prompt).
pub fn twitcher(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("twitcher").unwrap();
    cmd.timeout(twitcher_testkit::COMMAND_LIMIT).arg("--data-dir").arg(dir.join("data")).env_remove("TWITCHER_PROFILE").env("TWITCHER_KEYRING", "file");
    cmd
}

/// Runs a command expected to succeed; returns its JSON on stdout.
pub fn ok(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs a command expected to fail with exit 1 and `{"error":{"code","message"}}` on stderr;
/// returns the code.
pub fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    let body: Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    body["error"]["code"].as_str().unwrap().to_string()
}
