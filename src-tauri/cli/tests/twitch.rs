//! `twitcher twitch connect|stats` and `account test` of a connected account, as real processes
//! against the testkit's fake Twitch: the device code is printed, the account is linked with the
//! stream key Twitch holds, and no token, device code or key reaches a log, the database or output.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use twitcher_testkit::twitch::{FakeLive, FakeTwitch, FakeUser, CLIENT_ID};
use twitcher_testkit::Ingest;

const KEY: &str = "live_41245072_CliConnectKey5678";

fn twitcher(dir: &Path, fake: &FakeTwitch) -> StdCommand {
    let mut cmd = StdCommand::cargo_bin("twitcher").unwrap();
    cmd.arg("--data-dir")
        .arg(dir)
        .env_remove("TWITCHER_PROFILE")
        .env("TWITCHER_KEYRING", "file")
        .env("TWITCHER_LOG", "trace")
        .env("TWITCHER_TWITCH_INGEST_URL", "http://127.0.0.1:9/ingests")
        .env("TWITCHER_TWITCH_AUTH_URL", &fake.auth_url)
        .env("TWITCHER_TWITCH_API_URL", &fake.api_url)
        .env("TWITCHER_TWITCH_CLIENT_ID", CLIENT_ID);
    cmd
}

fn json(cmd: &mut StdCommand, outputs: &mut String) -> Value {
    let out = twitcher_testkit::output_within(cmd, twitcher_testkit::COMMAND_LIMIT);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    outputs.push_str(&text);
    assert!(out.status.success(), "{text}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn everything_in(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(everything_in(&path));
        } else {
            all.extend(std::fs::read(path).unwrap_or_default());
        }
    }
    all
}

#[test]
fn twitch_connect_prints_a_code_waits_for_approval_and_links_the_account_without_leaking_tokens() {
    let fake = FakeTwitch::start();
    let mut user = FakeUser::new("41245072", "nightowl", KEY);
    user.followers = 1234;
    user.live = Some(FakeLive { title: "3 a.m. rerun".into(), game_name: "Just Chatting".into(), viewer_count: 42 });
    fake.add_user(user);
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = String::new();
    json(twitcher(dir.path(), &fake).args(["--json", "profile", "create", "--name", "Ana"]), &mut outputs);

    let mut child = twitcher_testkit::Guarded::spawn(
        twitcher(dir.path(), &fake).args(["--json", "twitch", "connect"]).stdout(Stdio::piped()).stderr(Stdio::piped()),
        "twitcher twitch connect",
    );
    let mut stderr = BufReader::new(child.take_stderr().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut prompt = String::new();
    let code = loop {
        assert!(Instant::now() < deadline, "no code printed: {prompt}");
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        prompt.push_str(&line);
        if let Some(code) = fake.pending_user_codes().into_iter().find(|c| prompt.contains(c.as_str())) {
            break code;
        }
    };
    assert!(prompt.contains(&format!("{}/activate", fake.auth_url)), "{prompt}");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.running(), "it waits for the approval");
    fake.approve(&code, "41245072");
    let out = child.output_within(twitcher_testkit::COMMAND_LIMIT);
    let rest: String = stderr.lines().map_while(Result::ok).collect();
    outputs.push_str(&(String::from_utf8_lossy(&out.stdout).to_string() + &prompt + &rest));
    assert!(out.status.success(), "{outputs}");
    let connected: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = connected.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["account_id", "login", "scopes"], "CLI.md's keys");
    assert_eq!(connected["login"], "nightowl");
    assert_eq!(connected["scopes"], serde_json::json!(["channel:read:stream_key", "channel:manage:broadcast", "channel:manage:schedule"]));
    let id = connected["account_id"].as_i64().unwrap().to_string();

    let list = json(twitcher(dir.path(), &fake).args(["--json", "account", "list"]), &mut outputs);
    assert_eq!(list[0]["stream_key"], "live_****5678");
    assert_eq!(list[0]["connected"], true);

    let stats = json(twitcher(dir.path(), &fake).args(["--json", "twitch", "stats", &id]), &mut outputs);
    for key in ["account_id", "login", "followers", "live", "viewer_count", "title", "game_name"] {
        assert!(stats[0].get(key).is_some(), "stats lack {key}: {stats}");
    }
    assert_eq!((stats[0]["followers"].as_u64(), stats[0]["live"].as_bool(), stats[0]["viewer_count"].as_u64()), (Some(1234), Some(true), Some(42)));
    assert_eq!(stats[0]["game_name"], "Just Chatting");

    // `account test`: the key through the bandwidth test, the grant through validate and /users.
    let ingest = Ingest::start();
    json(twitcher(dir.path(), &fake).args(["--json", "account", "update", &id, "--ingest", &ingest.server()]), &mut outputs);
    let check = json(twitcher(dir.path(), &fake).args(["--json", "account", "test", &id]), &mut outputs);
    assert_eq!((check["ok"].as_bool(), check["token_ok"].as_bool()), (Some(true), Some(true)), "{check}");
    assert!(check["token_message"].as_str().unwrap().contains("nightowl"));

    // Unlinking revokes the grant on Twitch.
    json(twitcher(dir.path(), &fake).args(["--json", "account", "remove", &id]), &mut outputs);
    assert_eq!(fake.live_tokens(), (0, 0));

    let files = everything_in(dir.path());
    assert!(files.windows(b"Twitch account connected".len()).any(|w| w == b"Twitch account connected"), "the log was written");
    for secret in fake.issued_secrets().iter().map(String::as_str).chain([KEY]) {
        assert!(!files.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret is in the data dir (logs or database)");
        assert!(!outputs.contains(secret), "a secret was printed");
    }
}

#[test]
fn two_processes_needing_a_fresh_token_at_once_spend_the_refresh_token_exactly_once() {
    let fake = FakeTwitch::start();
    fake.add_user(FakeUser::new("41245072", "nightowl", KEY));
    fake.auto_approve("41245072");
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = String::new();
    json(twitcher(dir.path(), &fake).args(["--json", "profile", "create", "--name", "Ana"]), &mut outputs);
    let id = json(twitcher(dir.path(), &fake).args(["--json", "twitch", "connect"]), &mut outputs)["account_id"].to_string();
    let refreshes = || fake.requests().iter().filter(|r| r.path.ends_with("/oauth2/token") && r.form.get("grant_type").map(String::as_str) == Some("refresh_token")).count();
    assert_eq!(refreshes(), 0);
    // Twitch stops taking the access token: both processes get a 401 and need a new one.
    fake.expire_access_tokens();
    let mut both: Vec<_> = (0..2)
        .map(|_| twitcher_testkit::Guarded::spawn(twitcher(dir.path(), &fake).args(["--json", "twitch", "stats", &id, "--refresh"]).stdout(Stdio::piped()).stderr(Stdio::piped()), "twitcher twitch stats"))
        .collect();
    for child in &mut both {
        let out = child.output_within(twitcher_testkit::COMMAND_LIMIT);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(stats[0]["login"], "nightowl", "{stats}");
    }
    assert_eq!(refreshes(), 1, "one refresh for both processes");
    assert_eq!(fake.live_tokens().1, 1, "one refresh token left, and it works");
    let accounts = json(twitcher(dir.path(), &fake).args(["--json", "account", "list"]), &mut outputs);
    assert!(accounts[0]["auth_problem"].is_null(), "no 'reconnect needed': {accounts}");
}
