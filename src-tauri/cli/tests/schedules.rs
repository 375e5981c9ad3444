//! `twitcher schedule …` as real processes: the JSON keys and exit codes of CLI.md.

mod support;

use support::{ok, refused, twitcher};

#[test]
fn schedule_create_lists_the_next_seven_starts_in_utc_update_pause_resume_keep_its_id_and_delete_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    ok(twitcher(dir.path()).args(["--json", "profile", "create", "--name", "Ana"]));
    let file = twitcher_testkit::make_video(dir.path(), "Show", "mp4", &["-t", "1"]);
    let video = ok(twitcher(dir.path()).args(["--json", "video", "import"]).arg(&file))[0]["id"].as_i64().unwrap().to_string();
    let account = ok(twitcher(dir.path()).args(["--json", "account", "add", "--name", "Main", "--channel-id", "1001"]).write_stdin("live_1001_ScheduleKeyFromStdin\n"));
    let account = account["id"].as_i64().unwrap().to_string();

    let created = ok(twitcher(dir.path()).args([
        "--json", "schedule", "create", "--video", &video, "--account", &account, "--at", "20:00", "--tz", "Europe/Berlin",
        "--days", "mon,wed", "--duration", "2h", "--resolution", "1280x720", "--video-bitrate", "3000",
    ]));
    let id = created["id"].as_i64().unwrap();
    let next: Vec<&str> = created["next"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(next.len(), 7);
    for start in &next {
        // 20:00 in Berlin: 19:00Z in winter, 18:00Z in summer; on Mondays and Wednesdays.
        assert!(start.ends_with("T19:00:00.000Z") || start.ends_with("T18:00:00.000Z"), "{start}");
        let day = weekday(start);
        assert!(day == "Mon" || day == "Wed", "{start} is a {day}");
    }
    assert!(next.windows(2).all(|w| w[0] < w[1]));
    assert_eq!((created["duration_sec"].as_i64(), created["time_zone"].as_str()), (Some(7200), Some("Europe/Berlin")));

    let listed = ok(twitcher(dir.path()).args(["--json", "schedule", "list"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["next"], created["next"]);

    assert_eq!(listed[0]["paused"], false);

    // Edited in place (the same id, all of it given again), paused, resumed.
    let id_text = id.to_string();
    let edited = ok(twitcher(dir.path()).args([
        "--json", "schedule", "update", &id_text, "--video", &video, "--account", &account, "--at", "07:30", "--tz", "Asia/Tokyo", "--days", "sat",
    ]));
    assert_eq!((edited["id"].as_i64(), edited["at"].as_str(), edited["time_zone"].as_str()), (Some(id), Some("07:30"), Some("Asia/Tokyo")));
    assert_eq!(edited["duration_sec"], serde_json::Value::Null, "an edit replaces all of it");
    for start in edited["next"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()) {
        // 07:30 in Tokyo (no summer time) is 22:30Z on the day before: a Friday.
        assert!(start.ends_with("T22:30:00.000Z") && weekday(start) == "Fri", "{start}");
    }
    let paused = ok(twitcher(dir.path()).args(["--json", "schedule", "pause", &id_text]));
    assert_eq!((&paused["paused"], &paused["next"]), (&serde_json::json!(true), &serde_json::json!([])));
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "schedule", "list"]))[0]["paused"], true);
    let resumed = ok(twitcher(dir.path()).args(["--json", "schedule", "resume", &id_text]));
    assert_eq!((&resumed["paused"], resumed["next"].as_array().unwrap().len()), (&serde_json::json!(false), 7));
    assert_eq!(refused(twitcher(dir.path()).args(["--json", "schedule", "pause", "999"])), "schedule_not_found");
    assert_eq!(
        refused(twitcher(dir.path()).args(["--json", "schedule", "update", &id_text, "--video", &video, "--account", &account, "--at", "20:00", "--tz", "Mars/Base"])),
        "invalid_input"
    );

    assert_eq!(refused(twitcher(dir.path()).args(["--json", "schedule", "create", "--video", &video, "--account", &account, "--at", "20:00", "--tz", "Mars/Base"])), "invalid_input");
    assert_eq!(refused(twitcher(dir.path()).args(["--json", "schedule", "create", "--video", "999", "--account", &account, "--at", "20:00", "--tz", "UTC"])), "video_not_found");
    assert_eq!(refused(twitcher(dir.path()).args(["--json", "schedule", "delete", "999"])), "schedule_not_found");
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "schedule", "delete", &id.to_string()])), serde_json::json!({ "deleted": id }));
    assert!(ok(twitcher(dir.path()).args(["--json", "schedule", "list"])).as_array().unwrap().is_empty());
}

/// The weekday of an RFC 3339 UTC time, by `date` (GNU coreutils), independent of the code under test.
fn weekday(rfc3339: &str) -> String {
    let out = twitcher_testkit::output_within(std::process::Command::new("date").args(["-u", "-d", rfc3339, "+%a"]).env("LC_ALL", "C"), std::time::Duration::from_secs(10));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
