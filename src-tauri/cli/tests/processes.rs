//! Many processes on one data dir, as real processes with nginx-rtmp as the ingest:
//! - stopping from anywhere: a broadcast run by one process (`twitcher serve`, or a foreground
//!   `twitcher stream start`) is stopped by `twitcher stream stop` in another, through the stop
//!   order written on its rows;
//! - one start for a scheduled broadcast that several processes find due at the same moment.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{json, Value};
use twitcher_testkit::{children_named, make_video, wait_until, Guarded, Ingest, COMMAND_LIMIT};

const QUALITY: [&str; 6] = ["--fps", "30", "--video-bitrate", "1000", "--resolution", "640x360"];

fn twitcher(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("twitcher").unwrap();
    cmd.timeout(COMMAND_LIMIT).arg("--data-dir").arg(dir.join("data")).env("TWITCHER_KEYRING", "file").env_remove("TWITCHER_PROFILE");
    cmd
}

/// A long-running `twitcher` process on the same data dir (stdout piped).
fn background(dir: &Path, args: &[&str], what: &str) -> Guarded {
    Guarded::spawn(
        StdCommand::new(assert_cmd::cargo::cargo_bin("twitcher"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(args)
            .env("TWITCHER_KEYRING", "file")
            .env_remove("TWITCHER_PROFILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
        what,
    )
}

fn json_ok(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A profile with a 6 s clip prepared at [`QUALITY`] and one account per key, all to `ingest`:
/// (profile uuid, video id, account ids).
fn library(dir: &Path, ingest: &Ingest, keys: &[&str]) -> (String, i64, Vec<i64>) {
    let profile = json_ok(twitcher(dir).args(["--json", "profile", "create", "--name", "Night owl"]));
    let clip = make_video(dir, "clip", "mp4", &["-t", "6"]);
    let video = json_ok(twitcher(dir).arg("--json").arg("video").arg("import").arg(&clip))[0]["id"].as_i64().unwrap();
    let mut accounts = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let account = json_ok(
            twitcher(dir)
                .args(["--json", "account", "add", "--name", &format!("Channel {i}"), "--channel-id", &(500 + i).to_string(), "--ingest", &ingest.server()])
                .write_stdin(*key),
        );
        accounts.push(account["id"].as_i64().unwrap());
    }
    json_ok(twitcher(dir).args(["--json", "video", "prepare", &video.to_string()]).args(QUALITY));
    (profile["uuid"].as_str().unwrap().to_string(), video, accounts)
}

/// `twitcher serve` on a free port, allowed to publish to the test ingest: (the process, its base
/// URL, a signed-in HTTP client's token).
fn serve(dir: &Path, uuid: &str, ingest: &Ingest) -> (Guarded, String, String) {
    let (serve, base) = serve_with(dir, &["--allow-ingest", &ingest.host_port()], &[]);
    let login: Value = http().post(format!("{base}/api/auth/login")).json(&json!({ "uuid": uuid })).send().unwrap().json().unwrap();
    (serve, base, login["token"].as_str().unwrap().to_string())
}

fn http() -> reqwest::blocking::Client {
    // Idle pooled connections are dropped before `serve`'s header timeout (10 s) closes them.
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).pool_idle_timeout(Duration::from_secs(5)).build().unwrap()
}

/// `twitcher serve` on a free port with `args` and `env` added: (the process, its base URL),
/// once it listens.
fn serve_with(dir: &Path, args: &[&str], env: &[(&str, String)]) -> (Guarded, String) {
    let mut command = StdCommand::new(assert_cmd::cargo::cargo_bin("twitcher"));
    command.arg("--data-dir").arg(dir.join("data")).args(["--json", "serve", "--listen", "127.0.0.1:0"]).args(args);
    command.env("TWITCHER_KEYRING", "file").env_remove("TWITCHER_PROFILE").stdout(Stdio::piped()).stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut serve = Guarded::spawn(&mut command, "twitcher serve");
    let mut stdout = std::io::BufReader::new(serve.take_stdout().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    std::thread::spawn(move || stdout.lines().count());
    let base = format!("http://{}", serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("{e}: {line}"))["listening"].as_str().unwrap());
    (serve, base)
}

/// The status of each of the profile's streams, by stream id, as `stream list` shows them.
fn states(dir: &Path) -> Vec<(i64, String)> {
    let rows = json_ok(twitcher(dir).args(["--json", "stream", "list"]));
    rows.as_array().unwrap().iter().map(|r| (r["id"].as_i64().unwrap(), r["status"].as_str().unwrap().to_string())).collect()
}

#[test]
fn a_broadcast_started_through_serve_is_stopped_by_the_cli_within_two_seconds() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    let key = "live_701_servedThenStoppedByCli";
    let (uuid, video, accounts) = library(dir.path(), &ingest, &[key]);

    let (mut serve, base, token) = serve(dir.path(), &uuid, &ingest);
    let http = http();
    let (broadcast_id, stream_id) = start_through_api(&base, &token, video, accounts[0]);
    let status = |http: &reqwest::blocking::Client| -> String {
        let rows: Value = http.get(format!("{base}/api/streams")).bearer_auth(&token).send().unwrap().json().unwrap();
        rows.as_array().unwrap().iter().find(|r| r["id"] == stream_id).unwrap()["status"].as_str().unwrap().to_string()
    };
    wait_until(Duration::from_secs(30), "the served stream to go live", || status(&http) == "live");

    // Another process, the same data dir: the order is taken, and serve carries it out.
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "stream", "stop", &broadcast_id])), json!({ "stopped": 1 }));
    let ordered = Instant::now();
    wait_until(Duration::from_secs(10), "the stream to end", || status(&http) == "ended");
    let took = ordered.elapsed();
    eprintln!("the served stream ended {took:?} after the order");
    assert!(took <= Duration::from_secs(2), "ended {took:?} after the order");
    assert_eq!(states(dir.path()), vec![(stream_id, "ended".to_string())], "the CLI reads the same row");
    assert!(ingest.recording(key).metadata().unwrap().len() > 50_000, "it was live on nginx");

    // A second stop finds nothing running; serve goes on and ends cleanly.
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "stream", "stop", &broadcast_id])), json!({ "stopped": 0 }));
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    assert!(serve.wait_within(Duration::from_secs(20)).success());
}

#[test]
fn one_destination_then_all_are_stopped_from_another_process_and_the_running_cli_exits_0() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    let keys = ["live_702_firstStoppedAlone", "live_703_secondStoppedByAll"];
    let (_, video, accounts) = library(dir.path(), &ingest, &keys);
    let args = [
        "--json", "stream", "start", "--video", &video.to_string(), "--account", &accounts[0].to_string(), "--account", &accounts[1].to_string(), "--loop",
    ];
    let mut live = background(dir.path(), &[&args[..], &QUALITY[..]].concat(), "twitcher stream start");
    // Its JSON lines: read until both destinations are live.
    let mut lines = std::io::BufReader::new(live.take_stdout().unwrap()).lines();
    let mut live_ids = std::collections::BTreeMap::new();
    let mut broadcast_id = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while live_ids.len() < 2 {
        assert!(Instant::now() < deadline, "both destinations live");
        let status: Value = serde_json::from_str(&lines.next().expect("a status line").unwrap()).unwrap();
        broadcast_id = status["broadcast_id"].as_str().unwrap().to_string();
        if status["state"] == "live" {
            live_ids.insert(status["account_id"].as_i64().unwrap(), status["stream_id"].as_i64().unwrap());
        }
    }
    // Keep reading (and dropping) its output so it never blocks on a full pipe.
    let reader = std::thread::spawn(move || lines.count());

    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "stream", "stop", &broadcast_id, "--account", &accounts[0].to_string()])), json!({ "stopped": 1 }));
    let (first, second) = (live_ids[&accounts[0]], live_ids[&accounts[1]]);
    let status_of = |id: i64| states(dir.path()).into_iter().find(|(s, _)| *s == id).unwrap().1;
    wait_until(Duration::from_secs(10), "the first destination to end", || status_of(first) == "ended");
    assert_eq!(status_of(second), "live", "the other destination goes on");
    assert!(live.running(), "the broadcast goes on");

    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "stream", "stop", "--all"])), json!({ "stopped": 1 }));
    assert!(live.wait_within(Duration::from_secs(10)).success(), "every destination ended normally: exit 0");
    reader.join().unwrap();
    assert_eq!(status_of(second), "ended");
    for key in keys {
        assert!(ingest.recording(key).metadata().unwrap().len() > 50_000, "{key} was live on nginx");
    }
}

#[test]
fn stopping_a_broadcast_the_profile_does_not_have_is_an_error_and_stops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    json_ok(twitcher(dir.path()).args(["--json", "profile", "create"]));
    let out = twitcher(dir.path()).args(["--json", "stream", "stop", "0123456789abcdef0123456789abcdef"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["code"], "stream_not_found", "{error}");
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "stream", "stop", "--all"])), json!({ "stopped": 0 }));
    let usage = twitcher(dir.path()).args(["stream", "stop"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2), "a broadcast id or --all is required");
}

#[test]
fn a_scheduled_broadcast_found_due_by_serve_and_by_stream_start_at_is_published_once() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    let key = "live_704_scheduledOnceOnly";
    let (uuid, video, accounts) = library(dir.path(), &ingest, &[key]);
    // serve's scheduler looks every 2 s; `stream start --at` wakes at the time itself.
    let (mut serve, _, _) = serve(dir.path(), &uuid, &ingest);
    let at = time_in(Duration::from_secs(3));
    let mut cli = background(
        dir.path(),
        &[&["--json", "stream", "start", "--video", &video.to_string(), "--account", &accounts[0].to_string(), "--at", &at][..], &QUALITY[..]].concat(),
        "twitcher stream start --at",
    );
    let stream_id = || states(dir.path()).first().map(|(id, _)| *id);
    wait_until(Duration::from_secs(30), "the scheduled broadcast to go live", || {
        stream_id().is_some_and(|id| states(dir.path()).contains(&(id, "live".to_string())))
    });
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "stream", "stop", "--all"])), json!({ "stopped": 1 }));
    // Whichever won, the CLI ends: after its own broadcast, or at once when serve won.
    assert!(cli.wait_within(Duration::from_secs(20)).success());
    wait_until(Duration::from_secs(10), "the stream to end", || states(dir.path()).iter().all(|(_, s)| s == "ended"));
    wait_until(Duration::from_secs(10), "nginx to log the session", || ingest.publishes(key) >= 1);
    assert_eq!(states(dir.path()).len(), 1, "one row: one destination of one broadcast");
    assert_eq!(ingest.publishes(key), 1, "exactly one publish reached the ingest");
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    assert!(serve.wait_within(Duration::from_secs(20)).success());
}

#[test]
fn a_start_time_that_is_not_rfc3339_with_an_offset_or_is_past_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = Ingest::start();
    let (_, video, accounts) = library(dir.path(), &ingest, &["live_705_neverScheduled"]);
    for at in ["tomorrow at eight", "2026-11-27T20:00:00", "2026-13-01T20:00:00Z", "2020-01-01T00:00:00Z"] {
        let out = twitcher(dir.path())
            .args(["--json", "stream", "start", "--video", &video.to_string(), "--account", &accounts[0].to_string(), "--at", at])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{at}");
        let error: Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(error["error"]["code"], "invalid_input", "{at}: {error}");
        assert!(error["error"]["message"].as_str().unwrap().contains(at), "the message names what was given: {error}");
    }
    assert_eq!(states(dir.path()), vec![], "nothing was stored");
}

/// RFC 3339 in UTC, `after` from now.
fn time_in(after: Duration) -> String {
    (time::OffsetDateTime::now_utc() + after).format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// Starts a looping broadcast to one account through `serve`'s API: (broadcast id, stream id).
fn start_through_api(base: &str, token: &str, video: i64, account: i64) -> (String, i64) {
    let started: Value = http()
        .post(format!("{base}/api/streams/start"))
        .bearer_auth(token)
        .json(&json!({ "video_id": video, "account_ids": [account], "fps": 30, "video_bitrate_k": 1000, "resolution": "640x360", "loop": true }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let stream_id = started["streams"][0]["stream_id"].as_i64().unwrap_or_else(|| panic!("{started}"));
    (started["broadcast_id"].as_str().unwrap().to_string(), stream_id)
}

fn status_of(dir: &Path, id: i64) -> String {
    states(dir).into_iter().find(|(s, _)| *s == id).map(|(_, status)| status).unwrap_or_default()
}

#[test]
fn a_killed_serves_streams_are_taken_over_by_another_node_only_after_its_lease_expires_and_a_live_process_is_never_touched() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    let keys = ["live_706_onAServeThatDies", "live_707_onACliThatLives"];
    let (uuid, video, accounts) = library(dir.path(), &ingest, &keys);
    // A: a serve that will be killed, running one broadcast.
    let (mut doomed, base, token) = serve(dir.path(), &uuid, &ingest);
    let (_, orphan) = start_through_api(&base, &token, video, accounts[0]);
    // B: a foreground `stream start`, alive throughout.
    let args = ["--json", "stream", "start", "--video", &video.to_string(), "--account", &accounts[1].to_string(), "--loop"];
    let mut alive = background(dir.path(), &[&args[..], &QUALITY[..]].concat(), "twitcher stream start");
    let mut lines = std::io::BufReader::new(alive.take_stdout().unwrap()).lines();
    let kept: Value = loop {
        let status: Value = serde_json::from_str(&lines.next().expect("a status line").unwrap()).unwrap();
        if status["state"] == "live" {
            break status;
        }
    };
    let kept = kept["stream_id"].as_i64().unwrap();
    std::thread::spawn(move || lines.count());
    wait_until(Duration::from_secs(30), "A's stream live", || status_of(dir.path(), orphan) == "live");
    // C: another serve — a node of the same database, like A.
    let (mut survivor, _, _) = serve(dir.path(), &uuid, &ingest);
    let node_of = |id: i64| {
        let rows = json_ok(twitcher(dir.path()).args(["--json", "stream", "list"]));
        rows.as_array().unwrap().iter().find(|r| r["id"] == id).and_then(|r| r["node"].as_str().map(str::to_string))
    };
    let dead_node = node_of(orphan).expect("A publishes it");

    doomed.crash();
    let killed = Instant::now();
    let mut taken_after = None;
    while killed.elapsed() < Duration::from_secs(40) {
        assert_eq!(status_of(dir.path(), kept), "live", "the live process's stream is never touched");
        if node_of(orphan).is_some_and(|node| node != dead_node) {
            taken_after = Some(killed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let taken_after = taken_after.expect("the dead serve's stream was taken over");
    eprintln!("the dead serve's stream was taken over {taken_after:?} after the kill");
    // Its last renewal was at most 2 s before the kill; the lease lasts 10 s from there.
    assert!(taken_after >= Duration::from_secs(8), "taken over before its lease expired: {taken_after:?}");
    // The other node carries it on (see tests/fleet.rs); a process that is not a node would
    // have closed it per the after-crash policy (core tests).
    wait_until(Duration::from_secs(20), "the stream live on the surviving node", || status_of(dir.path(), orphan) == "live");

    assert!(alive.running(), "B went on");
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "stream", "stop", "--all"])), json!({ "stopped": 2 }));
    assert!(alive.wait_within(Duration::from_secs(10)).success());
    unsafe { libc::kill(survivor.id() as i32, libc::SIGTERM) };
    assert!(survivor.wait_within(Duration::from_secs(20)).success());
}

/// `account add` as a background process with the key on stdin (not yet waited for).
fn adding(dir: &Path, channel: &str, key: &str) -> Guarded {
    let mut child = Guarded::spawn(
        StdCommand::new(assert_cmd::cargo::cargo_bin("twitcher"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--json", "account", "add", "--name", channel, "--channel-id", channel])
            .env("TWITCHER_KEYRING", "file")
            .env_remove("TWITCHER_PROFILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
        "twitcher account add",
    );
    std::io::Write::write_all(&mut child.take_stdin().unwrap(), format!("{key}\n").as_bytes()).unwrap();
    child
}

#[test]
fn two_processes_starting_at_once_on_a_new_data_dir_agree_on_one_key_twenty_times() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        json_ok(twitcher(dir.path()).args(["--json", "profile", "create"]));
        // Both find no key and would each make one; they must agree on a single key.
        let mut first = adding(dir.path(), "801", "live_801_firstOfTwoAtOnce");
        let mut second = adding(dir.path(), "802", "live_802_secondOfTwoAtOnce");
        for child in [&mut first, &mut second] {
            let out = child.output_within(COMMAND_LIMIT);
            assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
        }
        // Rotation opens every secret: both were sealed under the one key on record.
        assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "vault", "rotate"])), json!({ "rotated": 2, "skipped": [] }), "round {round}");
    }
}

#[test]
fn a_database_moved_aside_leaves_the_key_file_unchanged_and_still_opens_when_restored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    json_ok(twitcher(dir.path()).args(["--json", "profile", "create"]));
    assert!(adding(dir.path(), "811", "live_811_sealedBeforeTheMove").output_within(COMMAND_LIMIT).status.success());
    let key_file = std::fs::read(data.join("vault.key")).unwrap();
    let aside = dir.path().join("aside");
    std::fs::create_dir(&aside).unwrap();
    let moves = |from: &Path, to: &Path| {
        for name in ["twitcher.db", "twitcher.db-wal", "twitcher.db-shm"] {
            if from.join(name).exists() {
                std::fs::rename(from.join(name), to.join(name)).unwrap();
            }
        }
    };
    moves(&data, &aside);
    // A fresh database on the same data dir: the key already there is adopted, not replaced.
    json_ok(twitcher(dir.path()).args(["--json", "profile", "create"]));
    assert!(adding(dir.path(), "812", "live_812_sealedOnAFreshDatabase").output_within(COMMAND_LIMIT).status.success());
    assert_eq!(std::fs::read(data.join("vault.key")).unwrap(), key_file, "the key file is unchanged");
    // The old database back: its secret opens (rotation re-seals it).
    let fresh = dir.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    moves(&data, &fresh);
    moves(&aside, &data);
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "vault", "rotate"])), json!({ "rotated": 1, "skipped": [] }));
}

#[test]
fn after_a_rotation_by_another_process_serve_seals_under_the_new_key() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    let (uuid, _, _) = library(dir.path(), &ingest, &["live_821_linkedBeforeTheRotation"]);
    let (mut serve, base, token) = serve(dir.path(), &uuid, &ingest);
    // serve has loaded the key (it sealed its token signing key); another process rotates it.
    // The account's key moves; serve's signing key is replaced, and every session ends (issue 30).
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "vault", "rotate"]))["rotated"], 1, "the account's key");
    assert_eq!(http().get(format!("{base}/api/videos")).bearer_auth(&token).send().unwrap().status(), 401, "sessions end with a rotation");
    let login: Value = http().post(format!("{base}/api/auth/login")).json(&json!({ "uuid": uuid })).send().unwrap().json().unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let linked: Value = http()
        .post(format!("{base}/api/twitch/link"))
        .bearer_auth(&token)
        .json(&json!({ "display_name": "After rotation", "channel_id": "822", "stream_key": "live_822_linkedAfterTheRotation", "ingest_server": ingest.server() }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = linked["id"].as_i64().unwrap_or_else(|| panic!("{linked}"));
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    assert!(serve.wait_within(Duration::from_secs(20)).success());
    // Another process opens the key serve sealed: Twitch's bandwidth test against nginx.
    let check = json_ok(twitcher(dir.path()).args(["--json", "account", "test", &id.to_string()]));
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "vault", "rotate"]))["rotated"], 2, "every secret still opens");
}

/// `twitcher doctor` beside a running `twitcher serve` (issue 29): it lists serve's supervised
/// tasks as serve last reported them — one that panicked with its restart counted — says so
/// when serve stops answering (SIGSTOP: hung), is clean again once it resumes, and lists no
/// task once it has ended.
#[test]
fn doctor_shows_the_tasks_of_the_serve_on_the_data_dir_and_a_hung_serve_as_not_answering() {
    let dir = tempfile::tempdir().unwrap();
    json_ok(twitcher(dir.path()).args(["--json", "profile", "create", "--name", "Owl"]));
    // The fault-injection door of a build made with tests: recovery's first turn panics.
    let (mut serve, _) = serve_with(dir.path(), &[], &[("TWITCHER_TEST_PANIC_TASKS", "recovery=1".into())]);
    let doctor = || json_ok(twitcher(dir.path()).args(["--json", "doctor"]));
    let task = |report: &Value, name: &str| report["tasks"].as_array().unwrap().iter().find(|t| t["name"] == name).cloned();

    let mut report = Value::Null;
    wait_until(Duration::from_secs(20), "doctor to see serve's recovery restarted and well", || {
        report = doctor();
        task(&report, "recovery").is_some_and(|t| t["restarts"] == 1 && t["state"] == "ok")
    });
    for name in ["job worker", "scheduler: due broadcasts", "recurring schedules", "alerts", "node heartbeat", "fleet: claims"] {
        let t = task(&report, name).unwrap_or_else(|| panic!("{name} missing: {report}"));
        for key in ["name", "state", "last_turn_age_sec", "restarts", "last_error"] {
            assert!(t.get(key).is_some(), "{key} missing from {t}");
        }
    }
    assert!(report["problems"].as_array().unwrap().is_empty(), "{report}");
    let text = String::from_utf8(twitcher(dir.path()).arg("doctor").output().unwrap().stdout).unwrap();
    assert!(text.contains("TASK") && text.contains("recovery") && text.contains("injected"), "{text}");

    // Hung: its report ages past 20 s, and doctor says so.
    let pid = serve.id() as libc::pid_t;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    wait_until(Duration::from_secs(40), "doctor to report serve as not answering", || {
        doctor()["problems"].to_string().contains("has not reported")
    });
    unsafe { libc::kill(pid, libc::SIGCONT) };
    wait_until(Duration::from_secs(20), "doctor to be clean again", || doctor()["problems"].as_array().unwrap().is_empty());

    serve.end();
    assert_eq!(doctor()["tasks"], json!([]), "an ended serve leaves no report");
}

/// A webhook receiver: every JSON body POSTed to it, as it arrives.
fn webhook() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            let (head_end, length) = loop {
                let Ok(n) = socket.read(&mut buf) else { break (0, 0) };
                if n == 0 {
                    break (0, 0);
                }
                request.extend_from_slice(&buf[..n]);
                if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                    let length = head.lines().find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
                    break (end + 4, length);
                }
            };
            while head_end > 0 && request.len() < head_end + length {
                let Ok(n) = socket.read(&mut buf) else { break };
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
            if let Ok(body) = serde_json::from_slice::<Value>(&request[head_end.min(request.len())..]) {
                kept.lock().unwrap().push(body);
            }
        }
    });
    (port, bodies)
}

/// A tmpfs of `bytes` mounted on `dir` in a mount namespace of this thread's own: the processes
/// this thread starts see it, nothing outside does, and it goes when the test's process does.
/// Needs root (CAP_SYS_ADMIN), as `scripts/test.sh` has. Unmounted when dropped.
struct PrivateDisk(std::ffi::CString);

impl PrivateDisk {
    fn mount(dir: &Path, bytes: u64) -> Self {
        use std::os::unix::ffi::OsStrExt;
        std::fs::create_dir_all(dir).unwrap();
        let c = |s: &[u8]| std::ffi::CString::new(s).unwrap();
        let (target, tmpfs, root) = (c(dir.as_os_str().as_bytes()), c(b"tmpfs"), c(b"/"));
        let options = c(format!("size={bytes},mode=0700").as_bytes());
        let failed = |what: &str| panic!("{what}: {} (this test mounts a small disk to fill; it needs root, as scripts/test.sh runs it)", std::io::Error::last_os_error());
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                failed("a mount namespace of the test's own");
            }
            if libc::mount(std::ptr::null(), root.as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) != 0 {
                failed("making its mounts private");
            }
            if libc::mount(tmpfs.as_ptr(), target.as_ptr(), tmpfs.as_ptr(), 0, options.as_ptr().cast()) != 0 {
                failed("a tmpfs for the data dir");
            }
        }
        PrivateDisk(target)
    }

    fn free_bytes(&self) -> u64 {
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(self.0.as_ptr(), &mut stat) }, 0);
        stat.f_bavail as u64 * stat.f_frsize as u64
    }
}

impl Drop for PrivateDisk {
    fn drop(&mut self) {
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Issue 29's chaos, with real processes: `serve` carries a looping playlist broadcast, a
/// scheduled one encoded live (an FFmpeg child) and a recurring schedule's occurrence while a
/// task of it panics (through the testing build's door: a panic cannot be made on purpose
/// otherwise), its FFmpeg children are killed, it is stopped for 15 s (SIGSTOP: hung), its disk
/// — a real one, a tmpfs — fills to its last 2 GB, and its ingest restarts. Nothing is lost:
/// every destination is live at the end and none failed, the occurrence started once and its
/// schedule ended it, every task runs, health answers 200, and the webhook got an alert for each
/// fault it can see (a task failing and recovering, the disk, a destination lost and back).
#[test]
fn serve_under_chaos_loses_nothing_keeps_every_task_alive_and_alerts_for_each_fault() {
    let mut ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    const GIB: u64 = 1 << 30;
    let disk = PrivateDisk::mount(&dir.path().join("data"), 2 * GIB + 64 * (1 << 20));
    let keys = ["live_801_chaosPlaylistLoop", "live_802_chaosScheduledOne", "live_803_chaosRecurringOne"];
    let (uuid, video, accounts) = library(dir.path(), &ingest, &keys);
    let (hook_port, posted) = webhook();
    let as_admin = |args: &[&str]| json_ok(twitcher(dir.path()).env("TWITCHER_PROFILE", &uuid).args(args));
    as_admin(&["--json", "alerts", "webhook", &format!("http://127.0.0.1:{hook_port}/twitcher")]);
    let playlist = as_admin(&["--json", "playlist", "create", "--name", "Chaos loop", "--loop"])["id"].as_i64().unwrap();
    as_admin(&["--json", "playlist", "add", &playlist.to_string(), &video.to_string(), &video.to_string()]);
    // A recurring schedule whose occurrence starts at the next whole minute at least 25 s away
    // (its scheduler panics once at start) and lasts 30 s.
    let minute = humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(85)).to_string()[11..16].to_string();
    let recurring = as_admin(
        &[&["--json", "schedule", "create", "--video", &video.to_string(), "--account", &accounts[2].to_string(), "--at", &minute, "--tz", "UTC", "--duration", "30s", "--title", "Chaos recurring", "--loop"][..], &QUALITY[..]].concat(),
    );
    let first_start = recurring["next"][0].as_str().unwrap().to_string();

    let (mut serve, base) = serve_with(
        dir.path(),
        &["--allow-ingest", &ingest.host_port(), "--allow-ingest", &format!("127.0.0.1:{hook_port}")],
        &[("TWITCHER_TEST_PANIC_TASKS", "recurring schedules=1".into())],
    );
    let http = http();
    let login: Value = http.post(format!("{base}/api/auth/login")).json(&json!({ "uuid": uuid })).send().unwrap().json().unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let start = |body: Value| -> Value {
        let response = http.post(format!("{base}/api/streams/start")).bearer_auth(&token).json(&body).send().unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.json().unwrap()
    };
    start(json!({ "playlist_id": playlist, "account_ids": [accounts[0]], "title": "Chaos loop", "fps": 30, "video_bitrate_k": 1000, "resolution": "640x360" }));
    // At 25 fps the clip is not prepared: it is encoded live by an FFmpeg child of `serve`.
    let at = humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(4)).to_string();
    let scheduled = start(json!({ "video_id": video, "account_ids": [accounts[1]], "title": "Chaos scheduled", "loop": true, "at": at, "fps": 25, "video_bitrate_k": 1000, "resolution": "640x360" }));
    assert!(scheduled["scheduled_at"].is_string(), "{scheduled}");
    let rows = || -> Vec<(String, String)> {
        let rows: Value = http.get(format!("{base}/api/streams")).bearer_auth(&token).send().unwrap().json().unwrap();
        rows.as_array().unwrap().iter().map(|r| (r["title"].as_str().unwrap_or("").to_string(), r["status"].as_str().unwrap().to_string())).collect()
    };
    let live = |title: &str| rows().iter().any(|(t, s)| t == title && s == "live");
    let both_live = || live("Chaos loop") && live("Chaos scheduled");
    wait_until(Duration::from_secs(40), "both broadcasts live", both_live);

    // The disk fills to its last 2 GB (less 16 MB).
    let fill = disk.free_bytes() - (2 * GIB - 16 * (1 << 20));
    std::fs::write(dir.path().join("data").join("filler"), vec![0u8; fill as usize]).unwrap();

    // Its FFmpeg children are killed: the live encode starts again, the destination stays up.
    let ffmpegs = children_named(serve.id(), "ffmpeg");
    assert!(!ffmpegs.is_empty(), "the live encode runs as a child of serve");
    for pid in &ffmpegs {
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    std::thread::sleep(Duration::from_secs(3));
    wait_until(Duration::from_secs(30), "both live after FFmpeg was killed", both_live);

    // The preparation of the 25 fps copy the live encode started meanwhile (FFmpeg too, if it
    // was still at work when killed) is tried again, not failed for good.
    let prepared_25 = || {
        std::fs::read_dir(dir.path().join("data").join("prepared"))
            .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().contains("-25fps-") && !e.file_name().to_string_lossy().starts_with('.')))
            .unwrap_or(false)
    };
    wait_until(Duration::from_secs(60), "the 25 fps copy prepared", prepared_25);

    // Hung for 15 s, then resumed: healthy again, still live.
    unsafe { libc::kill(serve.id() as libc::pid_t, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_secs(15));
    unsafe { libc::kill(serve.id() as libc::pid_t, libc::SIGCONT) };
    let healthy = || http.get(format!("{base}/api/health")).send().map(|r| r.status() == reqwest::StatusCode::OK).unwrap_or(false);
    wait_until(Duration::from_secs(30), "health 200 after the stop", healthy);
    wait_until(Duration::from_secs(30), "both live after the stop", both_live);

    // The ingest restarts: every destination reconnects.
    ingest.restart();
    wait_until(Duration::from_secs(60), "both live after the ingest restarted", both_live);

    // The recurring occurrence went live at its minute and its schedule ends it 30 s later.
    let occurrence = || rows().into_iter().filter(|(t, _)| t == "Chaos recurring").map(|(_, s)| s).collect::<Vec<_>>();
    wait_until(Duration::from_secs(150), "the recurring occurrence live", || occurrence() == ["live"]);
    assert!(std::time::SystemTime::now() >= humantime::parse_rfc3339_weak(&first_start).unwrap(), "not before its time ({first_start})");
    wait_until(Duration::from_secs(60), "the occurrence ended by its schedule", || occurrence() == ["ended"]);

    let health: Value = http.get(format!("{base}/api/health")).send().unwrap().json().unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let tasks = health["tasks"].as_array().unwrap();
    assert!(tasks.iter().all(|t| t["state"] == "ok" || t["state"] == "failing"), "every task runs: {health}");
    assert_eq!(tasks.iter().find(|t| t["name"] == "recurring schedules").unwrap()["restarts"], 1, "{health}");
    assert!(both_live(), "{:?}", rows());
    assert!(!rows().iter().any(|(_, s)| s == "failed"), "nothing failed: {:?}", rows());

    let events = || posted.lock().unwrap().iter().filter_map(|b| b["event"].as_str().map(str::to_string)).collect::<Vec<_>>();
    // The disk is looked at once a minute.
    wait_until(Duration::from_secs(70), "an alert for each fault", || {
        let events = events();
        ["task_failing", "task_recovered", "disk_low", "destination_lost", "destination_recovered"].iter().all(|e| events.iter().any(|x| x == e))
    });
    eprintln!("alerts posted: {:?}; FFmpeg children killed: {}", events(), ffmpegs.len());
    unsafe { libc::kill(serve.id() as libc::pid_t, libc::SIGTERM) };
    assert!(serve.wait_within(Duration::from_secs(30)).success());
}
