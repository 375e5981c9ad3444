//! `twitcher playlist …` as real processes: the JSON keys and exit codes of CLI.md.

use std::path::{Path, PathBuf};

mod support;

use serde_json::Value;
use support::{ok, refused, twitcher};

/// A 1 s clip; `hue` makes its content (and so its library entry) its own.
fn clip(dir: &Path, name: &str, hue: u32) -> PathBuf {
    twitcher_testkit::make_video(dir, name, "mp4", &["-t", "1", "-vf", &format!("hue=h={hue}")])
}

fn ids(playlist: &Value, key: &str) -> Vec<i64> {
    playlist["items"].as_array().unwrap().iter().map(|i| i[key].as_i64().unwrap()).collect()
}

#[test]
fn playlist_commands_build_reorder_and_delete_a_playlist_with_the_contract_keys() {
    let dir = tempfile::tempdir().unwrap();
    ok(twitcher(dir.path()).args(["--json", "profile", "create", "--name", "Ana"]));
    let files = [clip(dir.path(), "Intro", 0), clip(dir.path(), "Main", 120), clip(dir.path(), "Outro", 240)];
    let videos = ok(twitcher(dir.path()).args(["--json", "video", "import"]).args(&files));
    let v: Vec<i64> = videos.as_array().unwrap().iter().map(|v| v["id"].as_i64().unwrap()).collect();

    let created = ok(twitcher(dir.path()).args(["--json", "playlist", "create", "--name", "Nights", "--loop", "--shuffle"]));
    for key in ["id", "name", "loop", "shuffle", "items", "duration_sec"] {
        assert!(created.get(key).is_some(), "missing {key}: {created}");
    }
    assert_eq!((created["loop"].as_bool(), created["shuffle"].as_bool()), (Some(true), Some(true)));
    let id = created["id"].as_i64().unwrap().to_string();

    let added = ok(twitcher(dir.path())
        .args(["--json", "playlist", "add", &id, &v[0].to_string(), &v[1].to_string(), &v[2].to_string()])
        .args(["--title", "Night shift", "--category", "Just Chatting", "--tag", "English"]));
    assert_eq!(ids(&added, "video_id"), v);
    let item = &added["items"][0];
    for key in ["id", "video_id", "position", "title", "category", "tags", "duration_sec"] {
        assert!(item.get(key).is_some(), "missing {key}: {item}");
    }
    assert_eq!((item["title"].as_str(), item["tags"][0].as_str()), (Some("Night shift"), Some("English")));

    let last_item = ids(&added, "id")[2].to_string();
    let moved = ok(twitcher(dir.path()).args(["--json", "playlist", "move", &id, &last_item, "1"]));
    assert_eq!(ids(&moved, "video_id"), [v[2], v[0], v[1]]);
    assert_eq!(ids(&moved, "position"), [1, 2, 3]);
    let removed = ok(twitcher(dir.path()).args(["--json", "playlist", "remove", &id, &last_item]));
    assert_eq!(ids(&removed, "video_id"), [v[0], v[1]]);
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "playlist", "show", &id])), removed);
    let listed = ok(twitcher(dir.path()).args(["--json", "playlist", "list"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Bad input: exit 1, a code, nothing changed.
    assert_eq!(refused(twitcher(dir.path()).args(["--json", "playlist", "create", "--name", "Nights"])), "duplicate_playlist");
    assert_eq!(refused(twitcher(dir.path()).args(["--json", "playlist", "add", &id, "999"])), "video_not_found");
    assert_eq!(refused(twitcher(dir.path()).args(["--json", "playlist", "move", &id, "999", "1"])), "not_found");
    assert_eq!(refused(twitcher(dir.path()).args(["--json", "playlist", "show", "999"])), "playlist_not_found");
    assert_eq!(refused(twitcher(dir.path()).args(["--json", "stream", "start", "--playlist", "999", "--account", "1"])), "playlist_not_found");
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "playlist", "show", &id])), removed, "nothing changed");
    // --every needs --insert: a usage error, exit 2.
    let usage = twitcher(dir.path()).args(["playlist", "create", "--name", "X", "--every", "2"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));

    let deleted = ok(twitcher(dir.path()).args(["--json", "playlist", "delete", &id]));
    assert_eq!(deleted, serde_json::json!({ "deleted": id.parse::<i64>().unwrap() }));
    assert!(ok(twitcher(dir.path()).args(["--json", "playlist", "list"])).as_array().unwrap().is_empty());
    // The videos stay in the library.
    assert_eq!(ok(twitcher(dir.path()).args(["--json", "video", "list"])).as_array().unwrap().len(), 3);
}
