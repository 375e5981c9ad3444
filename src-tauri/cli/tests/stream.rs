//! `twitcher video prepare` and `twitcher stream start|list|logs` as real processes, streaming to
//! nginx-rtmp on loopback.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use twitcher_testkit::{make_video, Ingest};

fn twitcher(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("twitcher").unwrap();
    cmd.timeout(twitcher_testkit::COMMAND_LIMIT).arg("--data-dir").arg(dir.join("data")).env("TWITCHER_KEYRING", "file").env_remove("TWITCHER_PROFILE");
    cmd
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn stream_start_sends_one_video_to_two_accounts_and_prints_json_lines() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    ok(twitcher(dir.path()).args(["profile", "create"]));
    let clip = make_video(dir.path(), "clip", "mp4", &["-t", "4"]);
    let video: Value = serde_json::from_str(&ok(twitcher(dir.path()).arg("--json").arg("video").arg("import").arg(&clip))).unwrap();
    let video_id = video[0]["id"].as_i64().unwrap().to_string();
    let mut accounts = Vec::new();
    for (i, key) in ["live_1_first0key0aaaaaaaa", "live_2_second0key0bbbbbbb"].iter().enumerate() {
        let out = ok(twitcher(dir.path())
            .args(["--json", "account", "add", "--name", &format!("A{i}"), "--channel-id", &format!("{}", 10 + i), "--ingest", &ingest.server()])
            .write_stdin(*key));
        accounts.push(serde_json::from_str::<Value>(&out).unwrap()["id"].as_i64().unwrap().to_string());
    }
    let quality = ["--fps", "30", "--video-bitrate", "1000", "--resolution", "640x360"];
    let prepared: Value = serde_json::from_str(&ok(twitcher(dir.path()).args(["--json", "video", "prepare", &video_id]).args(quality))).unwrap();
    assert_eq!(prepared["status"], "ready");
    assert!(Path::new(prepared["path"].as_str().unwrap()).is_file());

    let out = ok(twitcher(dir.path())
        .args(["--json", "stream", "start", "--video", &video_id, "--account", &accounts[0], "--account", &accounts[1], "--title", "CLI test"])
        .args(quality));
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for key in ["stream_id", "account_id", "state", "bitrate_kbps", "bytes_sent", "reconnects", "error"] {
        assert!(lines[0].get(key).is_some(), "missing {key} in {}", lines[0]);
    }
    for account in &accounts {
        let states: Vec<&str> = lines
            .iter()
            .filter(|l| l["account_id"].to_string() == *account)
            .map(|l| l["state"].as_str().unwrap())
            .collect();
        assert!(states.contains(&"live") && states.last() == Some(&"ended"), "{states:?}");
    }
    assert!(lines.iter().any(|l| l["state"] == "live" && l["bitrate_kbps"].as_f64().unwrap() > 500.0), "a bitrate was reported");
    for key in ["live_1_first0key0aaaaaaaa", "live_2_second0key0bbbbbbb"] {
        assert!(ingest.recording(key).metadata().unwrap().len() > 100_000);
        assert!(!out.contains(key));
    }

    let list: Value = serde_json::from_str(&ok(twitcher(dir.path()).args(["--json", "stream", "list"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list.as_array().unwrap().iter().all(|s| s["status"] == "ended"));
    let id = list[0]["id"].to_string();
    let logs: Value = serde_json::from_str(&ok(twitcher(dir.path()).args(["--json", "stream", "logs", &id]))).unwrap();
    let messages: Vec<&str> = logs.as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert!(messages.contains(&"live") && messages.contains(&"ended"), "{messages:?}");
}

#[test]
fn a_stream_to_an_unreachable_ingest_fails_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    ok(twitcher(dir.path()).args(["profile", "create"]));
    let clip = make_video(dir.path(), "clip", "mp4", &["-t", "2"]);
    let video: Value = serde_json::from_str(&ok(twitcher(dir.path()).arg("--json").arg("video").arg("import").arg(&clip))).unwrap();
    let out = ok(twitcher(dir.path())
        .args(["--json", "account", "add", "--name", "A", "--channel-id", "1", "--ingest", "rtmp://127.0.0.1:9/app"])
        .write_stdin("live_1_unreachable0000000"));
    let account = serde_json::from_str::<Value>(&out).unwrap()["id"].to_string();
    let video_id = video[0]["id"].to_string();
    let result = twitcher(dir.path())
        .args(["--json", "stream", "start", "--video", &video_id, "--account", &account, "--fps", "30", "--video-bitrate", "800", "--resolution", "640x360"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&result.stdout);
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["state"], "failed");
    assert!(last["error"].as_str().unwrap().contains("cannot connect to 127.0.0.1:9"), "{last}");
    let err: Value = serde_json::from_slice(&result.stderr).unwrap();
    assert_eq!(err["error"]["code"], "stream_failed");
}

/// The PIDs of processes whose parent is `parent` and whose name is `name`.
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
        let field = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string());
        // The tool itself, or the bundle's sidecar copy of it (twitcher-ffmpeg).
        let named = field("Name:").is_some_and(|n| n == name || n == format!("twitcher-{name}"));
        if named && field("PPid:").and_then(|p| p.parse().ok()) == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// Running (not gone, not a zombie waiting to be reaped).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"))
        .unwrap_or(false)
}

#[test]
fn a_cli_killed_mid_prepare_leaves_no_ffmpeg_and_a_later_run_closes_its_streams_once_its_lease_expires() {
    let dir = tempfile::tempdir().unwrap();
    ok(twitcher(dir.path()).args(["profile", "create"]));
    // Long enough that preparing at 1080p takes a while.
    let clip = make_video(dir.path(), "long", "mp4", &["-t", "40", "-s", "1280x720"]);
    let video: Value = serde_json::from_str(&ok(twitcher(dir.path()).arg("--json").arg("video").arg("import").arg(&clip))).unwrap();
    let out = ok(twitcher(dir.path())
        .args(["--json", "account", "add", "--name", "A", "--channel-id", "1", "--ingest", "rtmp://127.0.0.1:9/app"])
        .write_stdin("live_1_sigkill000000000000"));
    let account = serde_json::from_str::<Value>(&out).unwrap()["id"].to_string();

    let mut cli = twitcher_testkit::Guarded::spawn(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("twitcher"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--json", "stream", "start", "--video", &video[0]["id"].to_string(), "--account", &account])
            .env("TWITCHER_KEYRING", "file")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
        "twitcher stream start",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let ffmpeg = loop {
        if let Some(pid) = children_named(cli.id(), "ffmpeg").first() {
            break *pid;
        }
        assert!(std::time::Instant::now() < deadline, "no ffmpeg started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    cli.crash(); // SIGKILL: no chance to clean up
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while running(ffmpeg) {
        assert!(std::time::Instant::now() < deadline, "ffmpeg {ffmpeg} outlived the CLI");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The dead process's lease expires 10 s after its last renewal; a later run takes the stream
    // over and closes it.
    let mut list = Value::Null;
    twitcher_testkit::wait_until(std::time::Duration::from_secs(30), "a later run to close the stream", || {
        list = serde_json::from_str(&ok(twitcher(dir.path()).args(["--json", "stream", "list"]))).unwrap();
        list[0]["status"] == "failed"
    });
    assert!(list[0]["error"].as_str().unwrap().starts_with("interrupted"), "{list}");
}

#[test]
fn account_test_checks_a_key_without_going_live() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    ok(twitcher(dir.path()).args(["profile", "create"]));
    let out = ok(twitcher(dir.path())
        .args(["--json", "account", "add", "--name", "A", "--channel-id", "1", "--ingest", &ingest.server()])
        .write_stdin("live_1_checkme00000000000"));
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"].to_string();
    let check: Value = serde_json::from_str(&ok(twitcher(dir.path()).args(["--json", "account", "test", &id]))).unwrap();
    assert_eq!(check["ok"], true, "{check}");
    assert!(!check.to_string().contains("checkme"));

    let out = ok(twitcher(dir.path())
        .args(["--json", "account", "add", "--name", "B", "--channel-id", "2", "--ingest", "rtmp://127.0.0.1:9/app"])
        .write_stdin("live_2_unreachable00000000"));
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"].to_string();
    let result = twitcher(dir.path()).args(["--json", "account", "test", &id]).output().unwrap();
    assert_eq!(result.status.code(), Some(1));
    let check: Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(check["ok"], false);
    assert!(check["message"].as_str().unwrap().contains("cannot connect"), "{check}");
}
