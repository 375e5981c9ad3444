//! The `twitcher` binary end to end: real processes on a temp data dir, output checked against the
//! contract in CLI.md (names, JSON keys, exit codes).

use std::path::Path;

use assert_cmd::Command;
use serde_json::{json, Value};

/// `twitcher --data-dir DIR ARGS...`, isolated from the caller's environment.
fn twitcher(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("twitcher").unwrap();
    cmd.timeout(twitcher_testkit::COMMAND_LIMIT).arg("--data-dir")
        .arg(dir)
        .env_remove("TWITCHER_PROFILE")
        .env_remove("TWITCHER_DATA_DIR")
        .env_remove("TWITCHER_FFMPEG")
        .env_remove("TWITCHER_FFPROBE")
        // Keyring probing is tested on its own below; elsewhere it would only slow things down.
        .env("TWITCHER_KEYRING", "file");
    cmd
}

fn json_ok(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs a command expected to fail with exit 1; returns the `{"code","message"}` from stderr.
fn json_err(cmd: &mut Command) -> (Value, String) {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let body: Value = serde_json::from_str(stderr.trim()).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (body["error"].clone(), stderr)
}

fn create(dir: &Path, name: &str) -> String {
    let v = json_ok(twitcher(dir).args(["--json", "profile", "create", "--name", name]));
    v["uuid"].as_str().unwrap().to_string()
}

#[test]
fn profile_create_prints_a_v4_uuid_that_login_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let created = json_ok(twitcher(dir.path()).args(["--json", "profile", "create", "--name", "Ana"]));
    assert_eq!(created.as_object().unwrap().len(), 4, "keys: {created}");
    assert_eq!(created["name"], "Ana");
    assert_eq!(created["role"], "ADMIN");
    assert_eq!(created["plan"], "FREE");
    let uuid = created["uuid"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);

    // From stdin (keeps it out of argv) and, per the contract, as an argument.
    let by_stdin = json_ok(twitcher(dir.path()).args(["--json", "profile", "login"]).write_stdin(format!("{uuid}\n")));
    assert_eq!(by_stdin["name"], "Ana");
    assert_eq!(by_stdin["role"], "ADMIN");
    let by_arg = json_ok(twitcher(dir.path()).args(["--json", "profile", "login", uuid]));
    assert_eq!(by_arg["plan"], "FREE");
    // After creation the UUID is only ever shown masked.
    let masked = by_arg["uuid"].as_str().unwrap();
    assert!(masked.starts_with("********-") && masked.ends_with(&uuid[32..]), "{masked}");
}

/// Issue 30: a leaked UUID was a permanent login. `profile rotate-uuid` gives a new one (shown
/// once) and the old one stops signing in; `profile sessions revoke` ends the API's tokens.
#[test]
fn rotate_uuid_gives_a_new_login_once_and_the_old_one_stops_working() {
    let dir = tempfile::tempdir().unwrap();
    let old = create(dir.path(), "Ana");
    let rotated = json_ok(twitcher(dir.path()).args(["--json", "profile", "rotate-uuid"]));
    assert_eq!(rotated.as_object().unwrap().len(), 1, "{rotated}");
    let new = rotated["uuid"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(new).unwrap().get_version_num(), 4);
    assert_ne!(new, old);
    let (error, stderr) = json_err(twitcher(dir.path()).args(["--json", "profile", "login", "-"]).write_stdin(format!("{old}\n")));
    assert_eq!(error["code"], "unknown_profile");
    assert!(!stderr.contains(&old) && !stderr.contains(new));
    // The failure locks sign-in on this machine for a second (the throttle), then the new UUID works.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "profile", "login", "-"]).write_stdin(format!("{new}\n")))["name"], "Ana");
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "profile", "sessions", "revoke"])), json!({ "revoked": true }));
    // The people's form says to keep it safe, as at creation.
    let text = twitcher(dir.path()).args(["profile", "rotate-uuid"]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("Keep it somewhere safe"));
}

#[test]
fn people_get_the_uuid_with_a_warning_to_keep_it_safe() {
    let dir = tempfile::tempdir().unwrap();
    let out = twitcher(dir.path()).args(["profile", "create"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Keep it somewhere safe"), "{text}");
    let uuid = text.split_whitespace().find(|w| uuid::Uuid::parse_str(w).is_ok()).expect("a UUID in the output");
    assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);
}

#[test]
fn a_random_uuid_is_refused_with_exit_1_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), "Ana");
    let random = uuid::Uuid::new_v4().to_string();
    let (error, stderr) = json_err(twitcher(dir.path()).args(["--json", "profile", "login", &random]));
    assert_eq!(error["code"], "unknown_profile");
    assert!(error["message"].as_str().unwrap().contains("no profile"), "{error}");
    assert!(!stderr.contains(&random));

    // People get the message too, on stderr, with exit 1.
    let out = twitcher(dir.path()).args(["profile", "login", "-"]).write_stdin("not-a-uuid\n").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: that is not a profile UUID"));
}

#[test]
fn a_malformed_uuid_is_refused_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), "Ana");
    for bad in ["1234", "3f2504e0-4f89-41d3-9a0c-0305e82c330", "zzzzzzzz-zzzz-4zzz-zzzz-zzzzzzzzzzzz", ""] {
        let (error, stderr) = json_err(twitcher(dir.path()).args(["--json", "profile", "login"]).write_stdin(bad));
        assert_eq!(error["code"], "malformed_uuid", "{bad:?}");
        assert!(bad.is_empty() || !stderr.contains(bad), "echoed {bad:?}");
    }
}

#[test]
fn failed_logins_lock_the_data_dir_for_a_growing_time() {
    let dir = tempfile::tempdir().unwrap();
    let uuid = create(dir.path(), "Ana");
    let wrong = uuid::Uuid::new_v4().to_string();
    let (first, _) = json_err(twitcher(dir.path()).args(["--json", "profile", "login", "-"]).write_stdin(wrong.clone()));
    assert_eq!(first["code"], "unknown_profile");
    // Straight after a failure even the right UUID is refused, and the message says how long to wait.
    let (locked, _) = json_err(twitcher(dir.path()).args(["--json", "profile", "login", "-"]).write_stdin(uuid));
    assert_eq!(locked["code"], "login_throttled");
    assert!(locked["message"].as_str().unwrap().contains("wait 1 s"), "{locked}");
}

#[test]
fn profile_list_shows_everyone_to_an_admin_and_only_yourself_to_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let admin = create(dir.path(), "Admin");
    let user = create(dir.path(), "User"); // creating signs in: User is now active

    let own = json_ok(twitcher(dir.path()).args(["--json", "profile", "list"]));
    let own = own.as_array().unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["name"], "User");
    assert_eq!(own[0]["role"], "USER");

    let all = json_ok(twitcher(dir.path()).args(["--json", "profile", "list"]).env("TWITCHER_PROFILE", &admin));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    for (row, uuid) in all.iter().zip([&admin, &user]) {
        let keys: Vec<_> = row.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["name", "plan", "role", "uuid"]);
        let shown = row["uuid"].as_str().unwrap();
        assert!(shown.ends_with(&uuid[32..]) && !shown.contains(&uuid[..8]), "{shown}");
    }

    let table = twitcher(dir.path()).args(["profile", "list"]).env("TWITCHER_PROFILE", &admin).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("NAME") && table.contains("Admin") && table.contains("User"), "{table}");
}

#[test]
fn commands_that_need_a_profile_say_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let (error, _) = json_err(twitcher(dir.path()).args(["--json", "profile", "list"]));
    assert_eq!(error["code"], "no_active_profile");
    assert!(error["message"].as_str().unwrap().contains("twitcher profile create"));

    create(dir.path(), "Ana");
    json_ok(twitcher(dir.path()).args(["--json", "profile", "logout"]));
    let (error, _) = json_err(twitcher(dir.path()).args(["--json", "profile", "list"]));
    assert_eq!(error["code"], "no_active_profile");
}

#[test]
fn an_admin_sets_a_plan_and_everyone_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let admin = create(dir.path(), "Admin");
    let user = create(dir.path(), "User");

    let (error, _) = json_err(twitcher(dir.path()).args(["--json", "profile", "set-plan", &admin, "ENTERPRISE"]));
    assert_eq!(error["code"], "not_admin");

    let changed = json_ok(
        twitcher(dir.path()).args(["--json", "profile", "set-plan", "-", "pro"]).env("TWITCHER_PROFILE", &admin).write_stdin(user.clone()),
    );
    assert_eq!(changed["plan"], "PRO");
    assert_eq!(changed.as_object().unwrap().len(), 2);
    assert!(changed["uuid"].as_str().unwrap().ends_with(&user[32..]));
    let own = json_ok(twitcher(dir.path()).args(["--json", "profile", "list"]));
    assert_eq!(own[0]["plan"], "PRO");

    let (error, _) = json_err(
        twitcher(dir.path()).args(["--json", "profile", "set-plan", &user, "GOLD"]).env("TWITCHER_PROFILE", &admin),
    );
    assert_eq!(error["code"], "unknown_plan");
    let random = uuid::Uuid::new_v4().to_string();
    let (error, _) = json_err(
        twitcher(dir.path()).args(["--json", "profile", "set-plan", &random, "PRO"]).env("TWITCHER_PROFILE", &admin),
    );
    assert_eq!(error["code"], "unknown_profile");
    let (error, _) = json_err(
        twitcher(dir.path()).args(["--json", "profile", "set-plan", "nope", "PRO"]).env("TWITCHER_PROFILE", &admin),
    );
    assert_eq!(error["code"], "malformed_uuid");
}

#[test]
fn plan_limits_are_listed_for_anyone_and_changed_only_by_an_admin_one_option_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let admin = create(dir.path(), "Admin");
    let user = create(dir.path(), "User"); // signed in last: the CLI's active profile
    let plans = json_ok(twitcher(dir.path()).args(["--json", "profile", "plans"]));
    assert_eq!(
        plans[0],
        json!({ "plan": "FREE", "max_accounts": 3, "max_storage_bytes": 10u64 << 30, "max_broadcasts": 1, "max_live_encodes": 1,
            "max_playlists": 20, "max_schedules": 10, "max_scheduled": 20 })
    );
    assert_eq!((plans[2]["plan"].as_str(), plans[2]["max_live_encodes"].is_null()), (Some("ENTERPRISE"), true));

    let (error, _) = json_err(twitcher(dir.path()).args(["--json", "profile", "set-limits", "PRO", "--live-encodes", "1"]));
    assert_eq!(error["code"], "not_admin");
    let changed = json_ok(
        twitcher(dir.path())
            .args(["--json", "profile", "set-limits", "pro", "--live-encodes", "1", "--storage-gb", "unlimited", "--playlists", "50", "--scheduled", "unlimited"])
            .env("TWITCHER_PROFILE", &admin),
    );
    assert_eq!(
        changed,
        json!([{ "plan": "PRO", "max_accounts": 10, "max_storage_bytes": null, "max_broadcasts": 5, "max_live_encodes": 1,
            "max_playlists": 50, "max_schedules": 100, "max_scheduled": null }])
    );
    // A limit that is not a count is a usage error (exit 2) naming what it takes; nothing changes.
    let out = twitcher(dir.path()).args(["--json", "profile", "set-limits", "PRO", "--broadcasts", "lots"]).env("TWITCHER_PROFILE", &admin).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a count"), "{}", String::from_utf8_lossy(&out.stderr));
    let (error, _) = json_err(twitcher(dir.path()).args(["--json", "profile", "set-limits", "GOLD", "--broadcasts", "2"]).env("TWITCHER_PROFILE", &admin));
    assert_eq!(error["code"], "unknown_plan");
    let plans = json_ok(twitcher(dir.path()).args(["--json", "profile", "plans"]).env("TWITCHER_PROFILE", &user));
    assert_eq!(plans[1]["max_broadcasts"], 5);
}

#[test]
fn doctor_reports_ffmpeg_ffprobe_keyring_data_dir_and_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let report = json_ok(twitcher(dir.path()).args(["--json", "doctor"]));
    for key in ["ffmpeg", "ffprobe", "keyring", "data_dir", "schema_version"] {
        assert!(report.get(key).is_some(), "missing {key}: {report}");
    }
    assert_eq!(report["data_dir"], dir.path().display().to_string());
    assert_eq!(report["logs_dir"], dir.path().join("logs").display().to_string());
    assert_eq!(report["cache_dir"], dir.path().join("cache").display().to_string());
    assert!(report["schema_version"].as_i64().unwrap() > 0);
    assert_eq!(report["keyring"], "file");
    for tool in ["ffmpeg", "ffprobe"] {
        let path = report[tool]["path"].as_str().unwrap_or_else(|| panic!("{tool} not found: {report}"));
        assert!(Path::new(path).is_file());
        // The desktop build copies the sidecars next to the binaries in target/ (see below).
        assert!(["sidecar", "path"].contains(&report[tool]["source"].as_str().unwrap()), "{report}");
        assert!(report[tool]["version"].as_str().is_some_and(|v| !v.is_empty()), "{report}");
    }
    // Running again (migrations already applied) changes nothing.
    let again = json_ok(twitcher(dir.path()).args(["--json", "doctor"]));
    assert_eq!(again["schema_version"], report["schema_version"]);
}

/// The CLI alone in a folder (a hard link: the same file, no copy), without the sidecars the
/// desktop build puts next to it in target/.
fn isolated_cli() -> (tempfile::TempDir, std::path::PathBuf) {
    let cli = assert_cmd::cargo::cargo_bin("twitcher");
    let bin = tempfile::tempdir_in(cli.parent().unwrap().parent().unwrap()).unwrap();
    let alone = bin.path().join("twitcher");
    std::fs::hard_link(&cli, &alone).unwrap();
    (bin, alone)
}

/// The sidecar next to the executable wins over the environment, which wins over PATH.
#[test]
fn doctor_finds_the_bundled_sidecar_first_then_the_override_then_path() {
    let (bin, alone) = isolated_cli();
    let data = tempfile::tempdir().unwrap();
    let doctor = |env: Option<&Path>| {
        let mut cmd = assert_cmd::Command::new(&alone);
        cmd.timeout(twitcher_testkit::COMMAND_LIMIT).arg("--data-dir").arg(data.path()).args(["--json", "doctor"]).env("TWITCHER_KEYRING", "file").env_remove("TWITCHER_FFMPEG");
        if let Some(path) = env {
            cmd.env("TWITCHER_FFMPEG", path);
        }
        json_ok(&mut cmd)
    };
    let real = which::which("ffmpeg").unwrap();
    assert_eq!(doctor(None)["ffmpeg"]["source"], "path");
    assert_eq!(doctor(Some(&real))["ffmpeg"]["source"], "env");
    std::os::unix::fs::symlink(&real, bin.path().join("twitcher-ffmpeg")).unwrap();
    let report = doctor(Some(&real));
    assert_eq!(report["ffmpeg"]["source"], "sidecar", "{report}");
    assert_eq!(report["ffmpeg"]["path"], bin.path().join("twitcher-ffmpeg").display().to_string());
    assert!(report["ffmpeg"]["version"].as_str().is_some_and(|v| !v.is_empty()));
}

#[test]
fn doctor_honours_ffmpeg_overrides_and_names_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_bin, alone) = isolated_cli();
    let twitcher = |dir: &Path| {
        let mut cmd = assert_cmd::Command::new(&alone);
        cmd.timeout(twitcher_testkit::COMMAND_LIMIT).arg("--data-dir").arg(dir).env("TWITCHER_KEYRING", "file").env_remove("TWITCHER_PROFILE");
        cmd
    };
    let real = which::which("ffmpeg").unwrap();
    let report = json_ok(twitcher(dir.path()).args(["--json", "doctor"]).env("TWITCHER_FFMPEG", &real));
    assert_eq!(report["ffmpeg"]["source"], "env");
    assert_eq!(report["ffmpeg"]["path"], real.display().to_string());

    let report = json_ok(twitcher(dir.path()).args(["--json", "doctor"]).env("TWITCHER_FFPROBE", "/nonexistent/ffprobe"));
    assert!(report["ffprobe"].is_null());
    let problems = report["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p.as_str().unwrap().contains("TWITCHER_FFPROBE")), "{report}");
}

#[test]
fn the_data_dir_comes_from_the_environment_when_no_flag_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("twitcher").unwrap();
    cmd.timeout(twitcher_testkit::COMMAND_LIMIT).env("TWITCHER_DATA_DIR", dir.path()).env("TWITCHER_KEYRING", "file").args(["--json", "doctor"]);
    let report = json_ok(&mut cmd);
    assert_eq!(report["data_dir"], dir.path().display().to_string());
    assert_eq!(report["logs_dir"], dir.path().join("logs").display().to_string());
    assert_eq!(report["cache_dir"], dir.path().join("cache").display().to_string());
    assert!(dir.path().join("twitcher.db").is_file());
}

#[test]
fn doctor_falls_back_to_a_key_file_when_there_is_no_secret_service() {
    let dir = tempfile::tempdir().unwrap();
    let report = json_ok(
        twitcher(dir.path())
            .env_remove("TWITCHER_KEYRING")
            // No session bus and no X display to autolaunch one: keyring's PlatformFailure path.
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .env_remove("DISPLAY")
            .args(["--json", "doctor"]),
    );
    assert_eq!(report["keyring"], "file");
}

/// Needs an unlocked Secret Service (the test script runs the suite under gnome-keyring in a private
/// D-Bus session and sets TWITCHER_TEST_SECRET_SERVICE=1).
#[test]
fn doctor_uses_the_os_keyring_when_a_secret_service_is_running() {
    if std::env::var_os("TWITCHER_TEST_SECRET_SERVICE").is_none() {
        eprintln!("skipped: run through scripts/test.sh for a real Secret Service");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let report = json_ok(twitcher(dir.path()).env_remove("TWITCHER_KEYRING").args(["--json", "doctor"]));
    assert_eq!(report["keyring"], "os", "{report}");
}

#[test]
fn no_uuid_reaches_the_log_files() {
    let dir = tempfile::tempdir().unwrap();
    let uuid = create(dir.path(), "Ana");
    json_ok(twitcher(dir.path()).args(["--json", "profile", "login", &uuid]).env("TWITCHER_LOG", "trace"));
    let wrong = uuid::Uuid::new_v4().to_string();
    json_err(twitcher(dir.path()).args(["--json", "profile", "login", &wrong]).env("TWITCHER_LOG", "trace"));

    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!logs.is_empty());
    let text: String = logs.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(text.contains("signed in") && text.contains("failed sign-in"), "{text}");
    assert!(!text.contains(&uuid) && !text.contains(&wrong), "{text}");
}

#[test]
fn usage_errors_exit_2_with_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = twitcher(dir.path()).args(["profile", "frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
}

#[test]
fn serve_answers_on_the_address_it_prints_warns_beyond_loopback_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    for (listen, warns) in [("127.0.0.1:0", false), ("0.0.0.0:0", true)] {
        let mut child = twitcher_testkit::Guarded::spawn(
            std::process::Command::new(assert_cmd::cargo::cargo_bin("twitcher"))
                .arg("--data-dir")
                .arg(dir.path())
                .args(["--json", "serve", "--listen", listen])
                .env("TWITCHER_KEYRING", "file")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
            "twitcher serve",
        );
        let mut line = String::new();
        BufReader::new(child.take_stdout().unwrap()).read_line(&mut line).unwrap();
        let address = serde_json::from_str::<serde_json::Value>(&line).unwrap()["listening"].as_str().unwrap().replace("0.0.0.0", "127.0.0.1");
        let mut socket = std::net::TcpStream::connect(&address).unwrap();
        socket.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        socket.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200") && response.contains("\"status\":\"ok\""), "{response}");
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let out = child.output_within(std::time::Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(stderr.contains("reachable from other machines"), warns, "{stderr}");
    }
}

#[test]
fn a_user_profile_on_the_command_line_cannot_change_the_data_dirs_settings() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), "Ana"); // the first profile: ADMIN
    json_ok(twitcher(dir.path()).args(["--json", "alerts", "webhook", "https://hooks.example.com/ana"]));
    create(dir.path(), "Bo"); // signed in now, a USER
    for args in [
        &["--json", "alerts", "webhook", "https://hooks.example.com/bo"][..],
        &["--json", "stream", "after-crash", "restart"],
        &["--json", "stream", "loudness", "-16"],
        &["--json", "twitch", "client-id", "abc123"],
        &["--json", "vault", "rotate"],
    ] {
        let (error, _) = json_err(twitcher(dir.path()).args(args));
        assert_eq!(error["code"], "not_admin", "{args:?}: {error}");
    }
    // What the ADMIN set is still there.
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "alerts", "webhook"]))["webhook_url"], "https://hooks.example.com/ana");
    assert_eq!(json_ok(twitcher(dir.path()).args(["--json", "stream", "after-crash"]))["after_crash"], "fail");
}
