//! `twitcher` on a PostgreSQL database shared by two machines' data dirs (a fleet's database):
//! what one writes the other reads, and a bad URL is a clear error that keeps the password out.
//! Runs in the suite's PostgreSQL stage (`TWITCHER_TEST_POSTGRES=1` inside `pg_virtualenv`, as
//! scripts/test.sh does); on SQLite alone there is nothing to share.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn twitcher(dir: &Path, database: &str) -> Command {
    let mut cmd = Command::cargo_bin("twitcher").unwrap();
    cmd.timeout(twitcher_testkit::COMMAND_LIMIT)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("TWITCHER_PROFILE")
        .env_remove("TWITCHER_DATA_DIR")
        .env_remove("DATABASE_URL")
        // The URL holds a password: the environment, never the arguments.
        .env("TWITCHER_DATABASE_URL", database)
        .env("TWITCHER_KEYRING", "file");
    cmd
}

fn json_ok(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn two_data_dirs_on_one_postgres_database_see_the_same_profiles() {
    let machine_a = tempfile::tempdir().unwrap();
    let machine_b = tempfile::tempdir().unwrap();
    let Some(url) = twitcher_testkit::postgres_database(machine_a.path()) else {
        eprintln!("skipped: runs in the PostgreSQL stage of scripts/test.sh");
        return;
    };
    let created = json_ok(twitcher(machine_a.path(), &url).args(["--json", "profile", "create", "--name", "Ana"]));
    let uuid = created["uuid"].as_str().unwrap();

    let seen = json_ok(twitcher(machine_b.path(), &url).env("TWITCHER_PROFILE", uuid).args(["--json", "profile", "list"]));
    assert_eq!(seen[0]["name"], "Ana", "{seen}");
    assert!(!machine_b.path().join("twitcher.db").exists(), "no SQLite database beside the shared one");

    let doctor = json_ok(twitcher(machine_b.path(), &url).args(["--json", "doctor"]));
    assert_eq!(doctor["database"], "postgres");
    assert!(doctor["schema_version"].as_i64().unwrap() > 0);
}

#[test]
fn a_wrong_database_password_is_a_clear_error_that_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = twitcher_testkit::postgres_database(dir.path()) else {
        eprintln!("skipped: runs in the PostgreSQL stage of scripts/test.sh");
        return;
    };
    let mut wrong = url::Url::parse(&url).unwrap();
    wrong.set_password(Some("Wr0ngPassw0rdMustNotShow")).unwrap();
    let out = twitcher(dir.path(), wrong.as_str()).args(["--json", "profile", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(!stderr.contains("Wr0ngPassw0rdMustNotShow"), "{stderr}");

    let out = twitcher(dir.path(), "mysql://localhost/x").args(["--json", "profile", "list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("postgres://"), "says what URL it takes: {stderr}");
}

#[test]
fn a_server_on_one_machine_is_listed_as_a_node_from_another_and_leaves_when_it_stops() {
    use std::io::{BufRead, BufReader};
    let machine_a = tempfile::tempdir().unwrap();
    let machine_b = tempfile::tempdir().unwrap();
    let Some(url) = twitcher_testkit::postgres_database(machine_a.path()) else {
        eprintln!("skipped: runs in the PostgreSQL stage of scripts/test.sh");
        return;
    };
    let admin = json_ok(twitcher(machine_b.path(), &url).args(["--json", "profile", "create", "--name", "Admin"]))["uuid"].as_str().unwrap().to_string();
    let mut serve = twitcher_testkit::Guarded::spawn(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("twitcher"))
            .arg("--data-dir")
            .arg(machine_a.path())
            .args(["--json", "serve", "--listen", "127.0.0.1:0", "--upload-mbps", "25"])
            .env_remove("TWITCHER_DATABASE_URL")
            // The seed's variable, which `serve` also reads.
            .env("DATABASE_URL", &url)
            .env("TWITCHER_KEYRING", "file")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
        "twitcher serve",
    );
    let mut line = String::new();
    BufReader::new(serve.take_stdout().unwrap()).read_line(&mut line).unwrap();
    let address = serde_json::from_str::<Value>(&line).unwrap()["listening"].as_str().unwrap().to_string();

    let list = || json_ok(twitcher(machine_b.path(), &url).env("TWITCHER_PROFILE", &admin).args(["--json", "node", "list"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let nodes = loop {
        let nodes = list();
        if !nodes.as_array().unwrap().is_empty() {
            break nodes;
        }
        assert!(std::time::Instant::now() < deadline, "the server never recorded itself");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(nodes[0]["address"], address.as_str(), "{nodes}");
    assert_eq!((nodes[0]["upload_mbps"].as_f64(), nodes[0]["alive"].as_bool()), (Some(25.0), Some(true)), "{nodes}");

    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    let out = serve.output_within(std::time::Duration::from_secs(20));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(list(), serde_json::json!([]), "a node that stops leaves");
}
