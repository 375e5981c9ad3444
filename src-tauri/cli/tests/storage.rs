//! `twitcher storage s3 …` and `twitcher video upload|fetch` against a real S3-compatible server
//! (moto) on loopback, configured the seed's way: S3_* environment variables.

use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::Value;
use twitcher_testkit::Moto;

fn moto() -> Option<Moto> {
    let moto = Moto::start()?;
    moto.create_bucket("clips");
    Some(moto)
}

fn twitcher(dir: &Path, moto: &Moto) -> Command {
    let mut cmd = Command::cargo_bin("twitcher").unwrap();
    cmd.timeout(twitcher_testkit::COMMAND_LIMIT).arg("--data-dir")
        .arg(dir.join("data"))
        .env("TWITCHER_KEYRING", "file")
        .env("S3_ENDPOINT", &moto.endpoint)
        .env("S3_BUCKET_NAME", "clips")
        .env("S3_ACCESS_KEY", "test")
        .env("S3_SECRET_KEY", "env-secret-NeVeRlOgGeD-77")
        .env("S3_REGION", "us-east-1");
    cmd
}

fn ok(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn with_the_seeds_s3_variables_a_video_uploads_fetches_back_and_is_removed() {
    let Some(moto) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    ok(twitcher(dir.path(), &moto).args(["--json", "profile", "create"]));
    let status = ok(twitcher(dir.path(), &moto).args(["--json", "storage", "s3", "show"]));
    assert_eq!(status["source"], "environment");
    assert_eq!(status["settings"]["bucket"], "clips");
    assert!(!status.to_string().contains("NeVeRlOgGeD"));
    assert_eq!(ok(twitcher(dir.path(), &moto).args(["--json", "storage", "s3", "test"]))["ok"], true);

    let clip = dir.path().join("clip.mp4");
    assert!(twitcher_testkit::output_within(
        StdCommand::new("ffmpeg").args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2", "-c:v", "libx264"]).arg(&clip),
        twitcher_testkit::COMMAND_LIMIT,
    )
    .status
    .success());
    let id = ok(twitcher(dir.path(), &moto).arg("--json").arg("video").arg("import").arg(&clip))[0]["id"].as_i64().unwrap().to_string();
    let uploaded = ok(twitcher(dir.path(), &moto).args(["--json", "video", "upload", &id]));
    assert_eq!(uploaded["storage"], "s3");
    assert!(uploaded["local_path"].is_null());
    let fetched = ok(twitcher(dir.path(), &moto).args(["--json", "video", "fetch", &id]));
    assert_eq!(std::fs::read(fetched["local_path"].as_str().unwrap()).unwrap(), std::fs::read(&clip).unwrap());
    ok(twitcher(dir.path(), &moto).args(["--json", "video", "remove", &id]));

    let logs: String = std::fs::read_dir(dir.path().join("data/logs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(logs.contains("video uploaded to S3") && !logs.contains("NeVeRlOgGeD"), "{logs}");
}

#[test]
fn a_wrong_endpoint_gives_a_precise_error() {
    let Some(moto) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = twitcher(dir.path(), &moto).env("S3_ENDPOINT", "http://127.0.0.1:9").args(["--json", "storage", "s3", "test"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "s3_error");
    assert!(err["error"]["message"].as_str().unwrap().contains("cannot reach http://127.0.0.1:9"), "{err}");
}

#[test]
fn the_download_cache_limit_is_shown_set_in_gb_and_refused_when_not_positive() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::cargo_bin("twitcher")
            .unwrap()
            .timeout(twitcher_testkit::COMMAND_LIMIT)
            .arg("--data-dir")
            .arg(dir.path())
            .env("TWITCHER_KEYRING", "file")
            .args(args)
            .output()
            .unwrap()
    };
    let json = |out: std::process::Output| -> Value {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(json(run(&["--json", "storage", "cache-limit"]))["max_bytes"], 20u64 * 1024 * 1024 * 1024);
    assert_eq!(json(run(&["--json", "storage", "cache-limit", "1.5"]))["max_bytes"], 1_610_612_736u64);
    assert_eq!(json(run(&["--json", "storage", "cache-limit"]))["max_bytes"], 1_610_612_736u64, "kept");
    let refused = run(&["--json", "storage", "cache-limit", "0"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a positive number of GB"));
}

/// `storage usage` says what the data dir holds by part and what its disk has free (the keys
/// are the contract), and `storage prepared-budget` is an ADMIN's setting of at least 1 GB.
#[test]
fn storage_usage_shows_each_part_and_free_space_and_the_prepared_budget_is_an_admins() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], profile: Option<&str>| {
        let mut cmd = Command::cargo_bin("twitcher").unwrap();
        cmd.timeout(twitcher_testkit::COMMAND_LIMIT).arg("--data-dir").arg(dir.path()).env("TWITCHER_KEYRING", "file").env_remove("TWITCHER_PROFILE").args(args);
        if let Some(uuid) = profile {
            cmd.env("TWITCHER_PROFILE", uuid);
        }
        cmd.output().unwrap()
    };
    let json = |out: std::process::Output| -> Value {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let admin = json(run(&["--json", "profile", "create", "--name", "Admin"], None))["uuid"].as_str().unwrap().to_string();
    let user = json(run(&["--json", "profile", "create", "--name", "User"], None))["uuid"].as_str().unwrap().to_string();
    let clip = twitcher_testkit::make_video(dir.path(), "clip", "mp4", &[]);
    json(run(&["--json", "video", "import", clip.to_str().unwrap()], Some(&admin)));

    let usage = json(run(&["--json", "storage", "usage"], Some(&admin)));
    for key in ["library_bytes", "prepared_bytes", "cache_bytes", "logs_bytes", "uploads_bytes", "free_bytes", "budget_bytes"] {
        assert!(usage[key].is_u64(), "{key} in {usage}");
    }
    assert!(usage["library_bytes"].as_u64().unwrap() >= std::fs::metadata(&clip).unwrap().len(), "{usage}");
    assert_eq!(usage["budget_bytes"], 20u64 * 1024 * 1024 * 1024);

    assert_eq!(json(run(&["--json", "storage", "prepared-budget", "2"], Some(&admin)))["budget_bytes"], 2u64 * 1024 * 1024 * 1024);
    let refused = run(&["--json", "storage", "prepared-budget", "5"], Some(&user));
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not_admin"), "{}", String::from_utf8_lossy(&refused.stderr));
    let refused = run(&["--json", "storage", "prepared-budget", "0.5"], Some(&admin));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("at least 1 GB"), "{}", String::from_utf8_lossy(&refused.stderr));
    assert_eq!(json(run(&["--json", "storage", "usage"], Some(&admin)))["budget_bytes"], 2u64 * 1024 * 1024 * 1024, "kept");
}
