//! `twitcher account …` and `twitcher vault rotate` as real processes: stream keys come in on
//! stdin only, come out masked only, and reach no log, argv or database page in plaintext.
//! The keyring fallbacks run against real D-Bus daemons and a real, locked gnome-keyring.

use std::io::Write;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use twitcher_testkit::{output_within, Guarded};
use serde_json::Value;

const KEY: &str = "live_314159265_SeCrEtStReAmKeYvAlUe00001234";

fn twitcher(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("twitcher").unwrap();
    cmd.timeout(twitcher_testkit::COMMAND_LIMIT).arg("--data-dir")
        .arg(dir)
        .env_remove("TWITCHER_PROFILE")
        .env("TWITCHER_KEYRING", "file")
        // Twitch's ingest list is not reachable in tests unless a test serves one.
        .env("TWITCHER_TWITCH_INGEST_URL", "http://127.0.0.1:9/ingests");
    cmd
}

fn run(cmd: &mut Command) -> (Option<i32>, Value, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = if out.status.success() {
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    } else {
        serde_json::from_str::<Value>(stderr.trim()).map(|v| v["error"].clone()).unwrap_or(Value::Null)
    };
    (out.status.code(), json, stdout + &stderr)
}

fn ok(cmd: &mut Command) -> Value {
    let (code, json, text) = run(cmd);
    assert_eq!(code, Some(0), "{text}");
    json
}

fn fails(cmd: &mut Command, code: &str) -> String {
    let (exit, json, text) = run(cmd);
    assert_eq!(exit, Some(1), "{text}");
    assert_eq!(json["code"], code, "{text}");
    text
}

fn profile(dir: &Path) {
    ok(twitcher(dir).args(["--json", "profile", "create", "--name", "Ana"]));
}

fn add(dir: &Path, name: &str, channel: &str, key: &str) -> Command {
    let mut cmd = twitcher(dir);
    cmd.args(["--json", "account", "add", "--name", name, "--channel-id", channel]).write_stdin(format!("{key}\n"));
    cmd
}

fn everything_in(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in walk(dir) {
        all.extend(std::fs::read(entry).unwrap_or_default());
    }
    all
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Issue 31, item 12: as in OBS, a name, a server and a key are enough (`"channel_id": null`).
#[test]
fn account_add_without_a_channel_id_links_it_with_none() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    let mut cmd = twitcher(dir.path());
    cmd.args(["--json", "account", "add", "--name", "Side", "--ingest", "rtmp://127.0.0.1:1935/app"]).write_stdin(format!("{KEY}\n"));
    let account = ok(&mut cmd);
    assert_eq!((&account["channel_id"], &account["stream_key"]), (&serde_json::Value::Null, &serde_json::json!("live_****1234")));
    fails(&mut add(dir.path(), "Bad", "not-a-number", KEY), "invalid_input");
}

#[test]
fn account_add_takes_the_key_from_stdin_and_shows_it_masked() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    let account = ok(add(dir.path(), "Ana Live", "4242", KEY).args(["--login", "Ana_Live", "--ingest", "rtmps://lax.example.net/app"]));
    for key in ["id", "display_name", "channel_id", "login", "ingest_server", "stream_key"] {
        assert!(account.get(key).is_some(), "missing {key}: {account}");
    }
    assert_eq!(account["stream_key"], "live_****1234");
    assert_eq!(account["login"], "ana_live");
    assert_eq!(account["ingest_server"], "rtmps://lax.example.net/app");

    let list = ok(twitcher(dir.path()).args(["--json", "account", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["stream_key"], "live_****1234");
    let people = twitcher(dir.path()).args(["account", "list"]).output().unwrap();
    let people = String::from_utf8(people.stdout).unwrap();
    assert!(people.contains("live_****1234") && people.contains("1 of 3 accounts (FREE plan)"), "{people}");
}

#[test]
fn a_stream_key_can_only_come_in_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    for flag in ["--key", "--stream-key"] {
        let out = twitcher(dir.path()).args(["account", "add", "--name", "A", "--channel-id", "1", flag, KEY]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} must not exist");
    }
    fails(&mut add(dir.path(), "A", "1", ""), "invalid_input");
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "account", "list"])), serde_json::json!([]));
}

#[test]
fn no_process_argument_list_holds_the_key_while_an_account_is_added() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    let mut child = twitcher_testkit::Guarded::spawn(
        StdCommand::new(assert_cmd::cargo::cargo_bin("twitcher"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--json", "account", "add", "--name", "A", "--channel-id", "1"])
            .env("TWITCHER_KEYRING", "file")
            .env("TWITCHER_LOG", "trace")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
        "twitcher account add",
    );
    child.take_stdin().unwrap().write_all(format!("{KEY}\n").as_bytes()).unwrap();
    let mut scans = 0;
    let deadline = Instant::now() + twitcher_testkit::COMMAND_LIMIT;
    while child.running() {
        assert!(Instant::now() < deadline, "account add did not finish");
        for proc_dir in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmdline) = std::fs::read(proc_dir.path().join("cmdline")) {
                assert!(!contains(&cmdline, "SeCrEtStReAmKeY"), "argv of {:?} holds the key", proc_dir.path());
            }
        }
        scans += 1;
    }
    assert!(child.output_within(Duration::from_secs(5)).status.success());
    assert!(scans > 0);
}

#[test]
fn an_add_list_update_remove_cycle_leaves_no_key_in_logs_or_database_files() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    let traced = |cmd: &mut Command| {
        cmd.env("TWITCHER_LOG", "trace");
    };
    let mut a = add(dir.path(), "A", "1", KEY);
    traced(&mut a);
    let id = ok(&mut a)["id"].as_i64().unwrap().to_string();
    ok(twitcher(dir.path()).env("TWITCHER_LOG", "trace").args(["--json", "account", "list"]));
    ok(twitcher(dir.path()).env("TWITCHER_LOG", "trace").args(["--json", "account", "update", &id, "--name", "B"]));
    let second = "live_271828182_AnOtHeRsEcReTkEyVaLuE5678";
    ok(twitcher(dir.path()).env("TWITCHER_LOG", "trace").args(["--json", "account", "set-key", &id]).write_stdin(second));
    ok(twitcher(dir.path()).env("TWITCHER_LOG", "trace").args(["--json", "account", "remove", &id]));

    let bytes = everything_in(dir.path());
    assert!(contains(&bytes, "Twitch account linked"), "the logs were written");
    assert!(!contains(&bytes, "SeCrEtStReAmKeY") && !contains(&bytes, "AnOtHeRsEcReTkEy"));
}

#[test]
fn update_keeps_what_is_not_given_and_remove_deletes() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    let id = ok(add(dir.path(), "A", "1", KEY).args(["--login", "alpha"]))["id"].as_i64().unwrap().to_string();
    let updated = ok(twitcher(dir.path()).args(["--json", "account", "update", &id, "--ingest", "rtmp://127.0.0.1:1935/app"]));
    assert_eq!((updated["display_name"].as_str(), updated["login"].as_str()), (Some("A"), Some("alpha")));
    assert_eq!(updated["ingest_server"], "rtmp://127.0.0.1:1935/app");
    let cleared = ok(twitcher(dir.path()).args(["--json", "account", "update", &id, "--login", "", "--ingest", "auto"]));
    assert!(cleared["login"].is_null() && cleared["ingest_server"].is_null(), "{cleared}");
    let rekeyed = ok(twitcher(dir.path()).args(["--json", "account", "set-key", &id]).write_stdin("live_000000000_newkeynewkeynewkey9999"));
    assert_eq!(rekeyed["stream_key"], "live_****9999");

    assert_eq!(ok(twitcher(dir.path()).args(["--json", "account", "remove", &id]))["removed"], id.parse::<i64>().unwrap());
    fails(twitcher(dir.path()).args(["--json", "account", "remove", &id]), "account_not_found");
    fails(twitcher(dir.path()).args(["--json", "account", "set-key", "999"]).write_stdin(KEY), "account_not_found");
}

#[test]
fn the_plan_limit_duplicates_and_bad_ingests_are_refused_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    for i in 1..=3 {
        ok(&mut add(dir.path(), "A", &i.to_string(), KEY));
    }
    let text = fails(&mut add(dir.path(), "D", "4", KEY), "plan_limit");
    assert!(text.contains("FREE plan allows 3"), "{text}");
    let dir2 = tempfile::tempdir().unwrap();
    profile(dir2.path());
    ok(&mut add(dir2.path(), "A", "1", KEY));
    fails(&mut add(dir2.path(), "B", "1", KEY), "duplicate_channel");
    for bad in ["http://host/app", "rtmp://host/app/live_1234567", "rtmp://user:pw@host/app", "nonsense"] {
        let text = fails(add(dir2.path(), "C", "2", KEY).args(["--ingest", bad]), "invalid_ingest");
        assert!(!text.contains("SeCrEt"));
    }
    fails(&mut add(dir2.path(), "C", "not-a-number", KEY), "invalid_input");
}

#[test]
fn vault_rotate_reseals_every_key_and_the_accounts_stay_usable() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    ok(&mut add(dir.path(), "A", "1", KEY));
    ok(&mut add(dir.path(), "B", "2", "live_2_twotwotwotwotwo2222"));
    let before = std::fs::read_to_string(dir.path().join("vault.key")).unwrap();
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "vault", "rotate"])), serde_json::json!({ "rotated": 2, "skipped": [] }));
    assert_ne!(std::fs::read_to_string(dir.path().join("vault.key")).unwrap(), before);
    // Setting a key needs the (new) vault: it works, and rotating again counts both.
    ok(twitcher(dir.path()).args(["--json", "account", "set-key", "1"]).write_stdin(KEY));
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "vault", "rotate"]))["rotated"], 2);
}

#[test]
fn a_missing_key_file_stops_with_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    ok(&mut add(dir.path(), "A", "1", KEY));
    std::fs::remove_file(dir.path().join("vault.key")).unwrap();
    let text = fails(&mut add(dir.path(), "B", "2", KEY), "key_missing");
    assert!(text.contains("the key that protects your stream keys is missing"), "{text}");
    assert!(!dir.path().join("vault.key").exists(), "no new key was made");
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "account", "list"])).as_array().unwrap().len(), 1);
    fails(twitcher(dir.path()).args(["--json", "vault", "rotate"]), "key_missing");
}

/// A key file as a server operator makes one (`openssl rand -hex 32`), mode `mode`.
fn key_file(dir: &Path, name: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    // 64 hex characters, random: two v4 UUIDs.
    let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    std::fs::write(&path, format!("{key}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn a_server_key_file_seals_the_keys_and_a_different_one_refuses_to_start_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (ours, theirs, open_to_all) = (key_file(keys.path(), "ours", 0o600), key_file(keys.path(), "theirs", 0o600), key_file(keys.path(), "loose", 0o644));
    let with = |path: &Path| {
        let mut cmd = twitcher(dir.path());
        cmd.env("TWITCHER_VAULT_KEY_FILE", path);
        cmd
    };
    ok(with(&ours).args(["--json", "profile", "create", "--name", "Ana"]));
    let mut adding = with(&ours);
    adding.args(["--json", "account", "add", "--name", "A", "--channel-id", "1"]).write_stdin(format!("{KEY}\n"));
    ok(&mut adding);
    assert!(!dir.path().join("vault.key").exists(), "no key of its own in the data dir");
    assert_eq!(ok(with(&ours).args(["--json", "doctor"]))["keyring"], "keyfile");
    assert!(!support_plaintext_in_db(dir.path()), "the stream key is sealed");

    // Another fleet's key: `serve` stops before listening, says why, and names neither the key
    // nor the file.
    let theirs_text = std::fs::read_to_string(&theirs).unwrap();
    let text = fails(with(&theirs).args(["--json", "serve", "--listen", "127.0.0.1:0"]), "key_mismatch");
    assert!(text.contains("is not the one that protects this data dir's stream keys"), "{text}");
    assert!(!text.contains(theirs_text.trim()) && !text.contains(&*theirs.to_string_lossy()), "{text}");
    // A file others may read is refused before it is used.
    let text = fails(with(&open_to_all).args(["--json", "serve", "--listen", "127.0.0.1:0"]), "key_store");
    assert!(text.contains("chmod 600"), "{text}");
    // Without the variable, it says what is missing instead of making a new key.
    let text = fails(twitcher(dir.path()).args(["--json", "serve", "--listen", "127.0.0.1:0"]).env_remove("TWITCHER_VAULT_KEY_FILE"), "key_store");
    assert!(text.contains("TWITCHER_VAULT_KEY_FILE"), "{text}");
    // Nothing was changed: the right key still opens everything, and cannot be rotated here.
    let accounts = ok(with(&ours).args(["--json", "account", "list"]));
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    fails(with(&ours).args(["--json", "vault", "rotate"]), "key_store");
}

/// Whether the test stream key is anywhere in the database files in plaintext.
fn support_plaintext_in_db(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with("twitcher.db")).any(|e| {
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes())
    })
}

/// A private D-Bus session bus with no services to activate, killed on drop.
struct PrivateBus {
    // Dropped in this order: the keyring before the bus it talks on.
    keyring: Option<Guarded>,
    _daemon: Guarded,
    address: String,
    dir: tempfile::TempDir,
}

impl PrivateBus {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\
                 <busconfig><type>session</type><listen>unix:dir={}</listen><auth>EXTERNAL</auth>\
                 <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
                 <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>",
                dir.path().display()
            ),
        )
        .unwrap();
        let mut daemon = Guarded::spawn(
            StdCommand::new("dbus-daemon").arg(format!("--config-file={}", config.display())).args(["--print-address=1", "--nofork"]).stdout(Stdio::piped()),
            "dbus-daemon (Debian package dbus)",
        );
        // It prints its address once listening; exiting instead closes the pipe (an empty line).
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(daemon.take_stdout().unwrap()), &mut line).unwrap();
        assert!(!line.trim().is_empty(), "dbus-daemon exited without an address");
        Self { _daemon: daemon, keyring: None, address: line.trim().to_string(), dir }
    }

    fn env(&self, cmd: &mut StdCommand) {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env_remove("DISPLAY");
    }

    /// gnome-keyring with a login keyring that exists but is locked: made unlocked once with a
    /// password, then the daemon is restarted without it.
    fn with_locked_keyring(mut self) -> Self {
        let keyring_file = self.dir.path().join("data/keyrings/login.keyring");
        let mut first = StdCommand::new("gnome-keyring-daemon");
        first.args(["--unlock", "--components=secrets", "--foreground"]).stdin(Stdio::piped()).stdout(Stdio::null());
        self.env(&mut first);
        let mut first = Guarded::spawn(&mut first, "gnome-keyring-daemon (Debian package gnome-keyring)");
        first.take_stdin().unwrap().write_all(b"test-password").unwrap();
        wait_until(|| keyring_file.exists(), "the login keyring to be created");
        first.end();

        let mut second = StdCommand::new("gnome-keyring-daemon");
        second.args(["--start", "--components=secrets", "--foreground"]).stdout(Stdio::null()).stderr(Stdio::null());
        self.env(&mut second);
        self.keyring = Some(Guarded::spawn(&mut second, "gnome-keyring-daemon"));
        let address = self.address.clone();
        wait_until(
            || {
                let asked = output_within(
                    StdCommand::new("dbus-send")
                        .env("DBUS_SESSION_BUS_ADDRESS", &address)
                        .args(["--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
                        .args(["org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"]),
                    Duration::from_secs(10),
                );
                String::from_utf8_lossy(&asked.stdout).contains("boolean true")
            },
            "gnome-keyring to own org.freedesktop.secrets",
        );
        self
    }
}

fn wait_until(check: impl FnMut() -> bool, what: &str) {
    twitcher_testkit::wait_until(Duration::from_secs(15), what, check);
}

/// Adds an account with the OS keyring preferred, under `bus` (or with no bus at all), and checks
/// that the key went to a 0600 key file, with one warning in the log and `doctor` saying `file`.
fn falls_back_to_key_file(bus: Option<&PrivateBus>) {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    let mut cmd = StdCommand::new(assert_cmd::cargo::cargo_bin("twitcher"));
    cmd.arg("--data-dir").arg(dir.path()).env_remove("TWITCHER_KEYRING").env_remove("DISPLAY");
    match bus {
        Some(bus) => bus.env(&mut cmd),
        None => {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
        }
    }
    let mut add = Command::from_std(cmd);
    add.timeout(twitcher_testkit::COMMAND_LIMIT).args(["--json", "account", "add", "--name", "A", "--channel-id", "1"]).write_stdin(KEY);
    let account = ok(&mut add);
    assert_eq!(account["stream_key"], "live_****1234");

    let key_file = dir.path().join("vault.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let logs: String = walk(&dir.path().join("logs")).iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert_eq!(logs.matches("no usable OS keyring").count(), 1, "{logs}");
    // Later commands read the recorded store, whatever the machine offers now.
    assert_eq!(ok(twitcher(dir.path()).env_remove("TWITCHER_KEYRING").args(["--json", "doctor"]))["keyring"], "file");
}

#[test]
fn with_no_session_bus_the_key_falls_back_to_a_0600_file() {
    falls_back_to_key_file(None);
}

#[test]
fn with_a_bus_but_no_secret_service_the_key_falls_back_to_a_0600_file() {
    let bus = PrivateBus::start();
    falls_back_to_key_file(Some(&bus));
}

#[test]
fn with_a_locked_keyring_the_key_falls_back_to_a_0600_file() {
    let bus = PrivateBus::start().with_locked_keyring();
    falls_back_to_key_file(Some(&bus));
}

#[test]
fn forcing_the_os_keyring_where_there_is_none_fails_clearly_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    profile(dir.path());
    let mut add = add(dir.path(), "A", "1", KEY);
    add.env("TWITCHER_KEYRING", "os").env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus").env_remove("DISPLAY");
    let text = fails(&mut add, "keyring_unavailable");
    assert!(text.contains("TWITCHER_KEYRING=file"), "{text}");
    assert!(!dir.path().join("vault.key").exists());
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "account", "list"])), serde_json::json!([]));
}

#[test]
fn account_ingests_lists_the_automatic_choice_even_offline() {
    let dir = tempfile::tempdir().unwrap();
    let list = ok(twitcher(dir.path()).args(["--json", "account", "ingests"]));
    assert_eq!(list["source"], "builtin");
    assert_eq!(list["automatic"], "rtmps://ingest.global-contribute.live-video.net/app");
}
