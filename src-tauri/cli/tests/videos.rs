//! `twitcher video …` as real processes on files ffmpeg makes at test time.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn twitcher(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("twitcher").unwrap();
    cmd.timeout(twitcher_testkit::COMMAND_LIMIT).arg("--data-dir").arg(dir.join("data")).env_remove("TWITCHER_PROFILE").env("TWITCHER_KEYRING", "file");
    cmd
}

fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn make(dir: &Path, name: &str, codecs: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let ok = twitcher_testkit::output_within(
        std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine"])
            .args(["-t", "3", "-shortest"])
            .args(codecs)
            .arg(&out),
        twitcher_testkit::COMMAND_LIMIT,
    )
    .status
    .success();
    assert!(ok);
    out
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(twitcher(dir.path()).args(["profile", "create", "--name", "Ana"]));
    assert_eq!(code, Some(0), "{err}");
    let mp4 = make(dir.path(), "Intro.mp4", &["-c:v", "libx264", "-c:a", "aac"]);
    let webm = make(dir.path(), "Outro.webm", &["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"]);
    (dir, mp4, webm)
}

#[test]
fn video_import_prints_each_video_with_the_contract_keys() {
    let (dir, mp4, webm) = setup();
    let (code, out, err) = run(twitcher(dir.path()).arg("--json").arg("video").arg("import").arg(&mp4).arg(&webm));
    assert_eq!(code, Some(0), "{err}");
    let videos = json(&out);
    let videos = videos.as_array().unwrap();
    assert_eq!(videos.len(), 2);
    for key in ["id", "title", "status", "container", "duration_sec", "width", "height", "fps", "codec_video", "codec_audio", "size_bytes", "storage"] {
        assert!(videos[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!((videos[0]["title"].as_str(), videos[0]["container"].as_str()), (Some("Intro"), Some("mp4")));
    assert_eq!((videos[1]["container"].as_str(), videos[1]["codec_video"].as_str()), (Some("webm"), Some("vp9")));
    assert_eq!(videos[0]["status"], "ready");
    assert_eq!(videos[0]["storage"], "local");
    assert_eq!(videos[0]["width"], 640);
}

#[test]
fn one_bad_file_fails_alone_and_the_command_exits_1() {
    let (dir, mp4, _) = setup();
    let junk = dir.path().join("junk.avi");
    std::fs::write(&junk, "definitely not a video").unwrap();
    let (code, out, err) = run(twitcher(dir.path()).arg("--json").arg("video").arg("import").arg(&junk).arg(&mp4));
    assert_eq!(code, Some(1));
    assert_eq!(json(&out).as_array().unwrap().len(), 1, "the good file imported");
    let errors: Vec<Value> = err.lines().map(json).collect();
    assert!(errors[0]["error"]["message"].as_str().unwrap().starts_with("junk.avi: not a video file"), "{err}");
    assert_eq!(errors.last().unwrap()["error"]["code"], "import_failed");

    // Importing it again is a duplicate, said plainly.
    let (code, _, err) = run(twitcher(dir.path()).arg("video").arg("import").arg(&mp4));
    assert_eq!(code, Some(1));
    assert!(err.contains("Intro.mp4: already in your library as \"Intro\""), "{err}");
}

#[test]
fn list_search_show_edit_and_remove_behave_as_documented() {
    let (dir, mp4, webm) = setup();
    assert_eq!(run(twitcher(dir.path()).arg("video").arg("import").arg(&mp4).arg(&webm)).0, Some(0));
    let list = |args: &[&str]| {
        let (code, out, err) = run(twitcher(dir.path()).args(["--json", "video", "list"]).args(args));
        assert_eq!(code, Some(0), "{err}");
        json(&out).as_array().unwrap().iter().map(|v| v["title"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(list(&["--sort", "title", "--asc"]), ["Intro", "Outro"]);
    assert_eq!(list(&["--search", "outro"]), ["Outro"]);
    assert_eq!(list(&["--format", "mp4"]), ["Intro"]);
    assert!(list(&["--min-height", "1080"]).is_empty());
    let (code, _, err) = run(twitcher(dir.path()).args(["--json", "video", "list", "--format", "mkv"]));
    assert_eq!(code, Some(1));
    assert_eq!(json(err.trim())["error"]["code"], "invalid_input");

    let id = {
        let (_, out, _) = run(twitcher(dir.path()).args(["--json", "video", "list", "--search", "Intro"]));
        json(&out)[0]["id"].as_i64().unwrap().to_string()
    };
    let (_, out, _) = run(twitcher(dir.path()).args(["--json", "video", "show", &id]));
    let shown = json(&out);
    assert_eq!(shown["codec_audio"], "aac");
    let file = PathBuf::from(shown["local_path"].as_str().unwrap());
    assert!(file.is_absolute() && file.exists());

    let (_, out, _) = run(twitcher(dir.path()).args(["--json", "video", "edit", &id, "--title", "Opening", "--description", "The first minute"]));
    assert_eq!((json(&out)["title"].as_str(), json(&out)["description"].as_str()), (Some("Opening"), Some("The first minute")));

    let (code, out, _) = run(twitcher(dir.path()).args(["--json", "video", "remove", &id]));
    assert_eq!((code, json(&out)["removed"].as_i64()), (Some(0), id.parse().ok()));
    assert!(!file.exists());
    let (code, _, err) = run(twitcher(dir.path()).args(["--json", "video", "show", &id]));
    assert_eq!(code, Some(1));
    assert_eq!(json(err.trim())["error"]["code"], "video_not_found");
}

/// Every entry under `dir` (not following links) whose mode lets group or others in.
fn readable_by_others(dir: &Path) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let mode = std::fs::symlink_metadata(&d).unwrap().permissions().mode();
        if mode & 0o077 != 0 {
            found.push((d.clone(), mode & 0o777));
        }
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let mode = entry.metadata().unwrap().permissions().mode();
                if mode & 0o077 != 0 {
                    found.push((entry.path(), mode & 0o777));
                }
            }
        }
    }
    found
}

#[test]
fn the_data_dir_is_private_to_its_owner_and_an_old_one_is_tightened_on_start() {
    use std::os::unix::fs::PermissionsExt;
    // Whatever umask the shell has (022 here, as on most systems), what Twitcher makes is private:
    // the database, logs, library copies, thumbnails.
    let (dir, mp4, _) = setup();
    let (code, _, err) = run(twitcher(dir.path()).arg("video").arg("import").arg(&mp4));
    assert_eq!(code, Some(0), "{err}");
    let data = dir.path().join("data");
    assert!(std::fs::read_dir(data.join("library")).unwrap().count() > 0, "a library copy was made");
    assert_eq!(readable_by_others(&data), vec![], "private from the start");

    // As an older version left it: everything readable by all. A link to a file outside stays
    // as it points (its target is not the data dir's to change).
    let outside = dir.path().join("elsewhere.txt");
    std::fs::write(&outside, "not ours").unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&outside, data.join("link")).unwrap();
    let mut pending = vec![data.clone()];
    while let Some(d) = pending.pop() {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            match entry.file_type().unwrap() {
                k if k.is_dir() => pending.push(entry.path()),
                k if k.is_file() => std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o644)).unwrap(),
                _ => {}
            }
        }
    }
    assert!(readable_by_others(&data).len() > 3);
    let (code, _, err) = run(twitcher(dir.path()).args(["video", "list"]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(readable_by_others(&data), vec![], "tightened when opened");
    assert_eq!(std::fs::metadata(&outside).unwrap().permissions().mode() & 0o777, 0o644, "the link's target untouched");
}
