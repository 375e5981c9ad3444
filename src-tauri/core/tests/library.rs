//! The video library on a real data dir with files ffmpeg makes at test time: imports through
//! durable jobs, every bad input, duplicates, limits, crash recovery, search, edit and remove.

mod support;

use std::path::{Path, PathBuf};

use support::{make_video, open, truncate, Bind};
use twitcher_core::events::Event;
use twitcher_core::jobs::{self, Job, JobStatus};
use twitcher_core::library::{self, LibraryError, Sort, VideoQuery};
use twitcher_core::media::Container;
use twitcher_core::profiles::{self, Plan, Profile};
use twitcher_core::vault::KeyringPreference;
use twitcher_core::Twitcher;

async fn setup() -> (tempfile::TempDir, Twitcher, Profile) {
    let dir = tempfile::tempdir().unwrap();
    let app = open(&dir.path().join("data"), KeyringPreference::File).await;
    let profile = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    (dir, app, profile)
}

async fn import(app: &Twitcher, who: &Profile, paths: &[PathBuf]) -> Vec<Job> {
    let (ids, refused) = library::import(app, who, paths).await.unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    jobs::run_until_done(app, &ids).await.unwrap()
}

/// Every file under the data dir's library and thumbnail folders.
fn stored_files(app: &Twitcher) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["library", "thumbnails"] {
        let root = app.data_dir().join(sub);
        if root.exists() {
            for entry in walkdir(&root) {
                out.push(entry);
            }
        }
    }
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn every_format_imports_with_its_metadata_a_copy_and_a_thumbnail() {
    let (dir, app, ana) = setup().await;
    let mut events = app.events.subscribe();
    let exts = ["mp4", "webm", "ogg", "avi", "mov", "wmv", "flv"];
    let files: Vec<PathBuf> = exts.iter().map(|e| make_video(dir.path(), &format!("clip {e}"), e, &[])).collect();
    let done = import(&app, &ana, &files).await;
    assert!(done.iter().all(|j| j.status == JobStatus::Succeeded), "{done:?}");

    let page = library::list(&app, &ana, &VideoQuery { sort: Sort::Title, descending: false, ..Default::default() }).await.unwrap();
    assert_eq!(page.total, 7);
    for (video, ext) in page.items.iter().zip(["avi", "flv", "mov", "mp4", "ogg", "webm", "wmv"]) {
        assert_eq!(video.title, format!("clip {ext}"));
        assert_eq!(video.container, Container::from_extension(ext));
        assert_eq!((video.width, video.height), (Some(640), Some(360)));
        assert!((video.duration_sec.unwrap() - 4.0).abs() < 0.3);
        let copy = PathBuf::from(video.local_path.as_ref().unwrap());
        assert!(copy.starts_with(app.data_dir()), "copied into the data dir");
        assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(dir.path().join(format!("clip {ext}.{ext}"))).unwrap());
        assert_eq!(video.size_bytes as u64, std::fs::metadata(&copy).unwrap().len());
        let thumb = std::fs::read(video.thumbnail.as_ref().unwrap()).unwrap();
        assert_eq!(&thumb[..2], &[0xFF, 0xD8]);
    }
    assert!(!stored_files(&app).iter().any(|p| p.to_string_lossy().contains(".import-")), "no temp files left");

    // Progress went out as events, ending with the new video's id.
    let mut progressed = false;
    let mut succeeded = 0;
    while let Ok(event) = events.try_recv() {
        if let Event::Job(job) = event {
            progressed |= job.status == JobStatus::Running && job.progress > 0.3 && job.progress < 1.0;
            if job.status == JobStatus::Succeeded {
                assert!(job.video_id.is_some());
                succeeded += 1;
            }
        }
    }
    assert!(progressed);
    assert_eq!(succeeded, 7);
}

#[tokio::test]
async fn each_bad_file_gets_its_own_error_and_the_good_ones_still_import() {
    let (dir, app, ana) = setup().await;
    let good = make_video(dir.path(), "good", "mp4", &[]);
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.avi");
    std::fs::write(&text, "not a video\n".repeat(500)).unwrap();
    let truncated = make_video(dir.path(), "cut", "mp4", &["-movflags", "+faststart"]);
    truncate(&truncated, 0.5);
    let audio = dir.path().join("clip.ogg");
    assert!(twitcher_testkit::output_within(
        std::process::Command::new("ffmpeg").args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine", "-t", "2", "-c:a", "libvorbis"]).arg(&audio),
        std::time::Duration::from_secs(60),
    )
    .status
    .success());
    let missing = dir.path().join("missing.mp4");

    let (ids, refused) = library::import(&app, &ana, &[good, empty, text, truncated, audio, missing]).await.unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].file, "missing.mp4");
    let done = jobs::run_until_done(&app, &ids).await.unwrap();
    let errors: Vec<String> = done.iter().map(|j| j.error.clone().unwrap_or_default()).collect();
    assert_eq!(done[0].status, JobStatus::Succeeded);
    assert!(errors[1].starts_with("empty.mp4: the file is empty"), "{errors:?}");
    assert!(errors[2].starts_with("notes.avi: not a video file FFmpeg can read (it is not a video in one of the accepted containers"), "{errors:?}");
    assert!(errors[3].starts_with("cut.mp4: the file is truncated: it ends at"), "{errors:?}");
    assert_eq!(errors[4], "clip.ogg: no video stream found");
    assert!(done[1..].iter().all(|j| j.status == JobStatus::Failed && j.attempts == 1), "bad input is not retried");

    let page = library::list(&app, &ana, &VideoQuery::default()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(stored_files(&app).len(), 2, "one video and its thumbnail: {:?}", stored_files(&app));
}

/// Issue 29: a library file is read with the file protocol and the seven containers' demuxers
/// only. A playlist named `.mp4` — HLS pointing at a URL, or a concat list naming a video
/// elsewhere on the machine — is refused before FFmpeg follows it: no connection is made, no
/// file outside the upload is read, and the error carries none of FFmpeg's words (heap
/// addresses, demuxer names), which go to the log.
#[tokio::test]
async fn a_playlist_disguised_as_a_video_is_refused_without_following_it_and_without_ffmpegs_words() {
    let (dir, app, ana) = setup().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let hls = dir.path().join("movie.mp4");
    std::fs::write(&hls, format!("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:{port}/segment.ts\n#EXT-X-ENDLIST\n")).unwrap();
    // A real video elsewhere on the machine, which the concat demuxer would read and import.
    let elsewhere = make_video(dir.path(), "private", "mp4", &[]);
    let concat = dir.path().join("holiday.mp4");
    std::fs::write(&concat, format!("ffconcat version 1.0\nfile '{}'\n", elsewhere.display())).unwrap();

    let (ids, _) = library::import(&app, &ana, &[hls, concat]).await.unwrap();
    let done = jobs::run_until_done(&app, &ids).await.unwrap();
    for job in &done {
        let error = job.error.clone().unwrap_or_default();
        assert_eq!(job.status, JobStatus::Failed, "{job:?}");
        assert!(error.contains("not a video in one of the accepted containers"), "{error}");
        for word in ["0x", "hls", "concat", "http", "whitelist", dir.path().to_str().unwrap()] {
            assert!(!error.contains(word), "{word} in {error}");
        }
    }
    assert!(matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "FFmpeg connected to the playlist's URL");
    assert_eq!(library::list(&app, &ana, &VideoQuery::default()).await.unwrap().total, 0);
}

/// Issue 29: a run past its wall-clock limit is killed and its job fails with that reason; the
/// job worker goes on with the next job. (The limit is shortened through the `testing` build's
/// `TWITCHER_TEST_FFMPEG_LIMIT_MS`; each test is its own process under nextest.)
#[tokio::test]
async fn an_ffmpeg_run_past_its_limit_is_killed_and_the_next_job_still_runs() {
    let (dir, app, ana) = setup().await;
    let long = make_video(dir.path(), "long", "mp4", &["-t", "120"]);
    let short = make_video(dir.path(), "short", "mp4", &[]);
    std::env::set_var("TWITCHER_TEST_FFMPEG_LIMIT_MS", "1");
    // This test's file only: another test of the run may be reading a file of the same name.
    let pattern = format!("ff(mpeg|probe).*{}", long.display());
    let (ids, _) = library::import(&app, &ana, &[long]).await.unwrap();
    let started = std::time::Instant::now();
    let done = jobs::run_until_done(&app, &ids).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "killed at its limit, not run to its end");
    assert_eq!(done[0].status, JobStatus::Failed);
    assert!(done[0].error.as_deref().is_some_and(|e| e.contains("longer than its limit")), "{:?}", done[0].error);
    // (A killed child may take a moment to be reaped.)
    let running = || String::from_utf8(std::process::Command::new("pgrep").args(["-a", "-f", &pattern]).output().unwrap().stdout).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !running().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(running(), "", "no FFmpeg left running on the file");
    std::env::remove_var("TWITCHER_TEST_FFMPEG_LIMIT_MS");
    let next = import(&app, &ana, &[short]).await;
    assert_eq!(next[0].status, JobStatus::Succeeded, "{next:?}");
}

/// Issue 29: one bad job is skipped and marked with its reason. A handler that panics fails its
/// job (not retried, not left "running" under a lease this process keeps renewing) and the next
/// job runs. (The panic comes through the `testing` build's fault door.)
#[tokio::test]
async fn a_job_whose_handler_panics_fails_with_a_reason_and_the_next_job_runs() {
    let (dir, app, ana) = setup().await;
    let first = make_video(dir.path(), "first", "mp4", &[]);
    let second = make_video(dir.path(), "second", "mp4", &["-vf", "negate"]);
    app.tasks().inject_panics("job import", 1);
    let done = import(&app, &ana, &[first, second]).await;
    assert_eq!(done[0].status, JobStatus::Failed, "{done:?}");
    assert_eq!(done[0].attempts, 1, "not retried");
    assert!(done[0].error.as_deref().is_some_and(|e| e.starts_with("first.mp4: internal error")), "{done:?}");
    assert_eq!(done[1].status, JobStatus::Succeeded, "{done:?}");
}

#[tokio::test]
async fn the_same_content_twice_is_detected_and_said() {
    let (dir, app, ana) = setup().await;
    let file = make_video(dir.path(), "clip", "webm", &[]);
    let copy = dir.path().join("copy of clip.webm");
    std::fs::copy(&file, &copy).unwrap();
    import(&app, &ana, &[file]).await;
    let second = import(&app, &ana, &[copy]).await;
    assert_eq!(second[0].status, JobStatus::Failed);
    let error = second[0].error.as_deref().unwrap();
    assert!(error.contains("already in your library as \"clip\""), "{error}");
    assert_eq!(library::list(&app, &ana, &VideoQuery::default()).await.unwrap().total, 1);
    assert_eq!(stored_files(&app).len(), 2);
}

#[tokio::test]
async fn the_size_limit_and_the_plan_quota_are_checked_before_copying() {
    let (dir, app, ana) = setup().await;
    let file = make_video(dir.path(), "clip", "mp4", &[]);
    let size = std::fs::metadata(&file).unwrap().len();

    library::set_max_file_bytes(&app, &ana, size - 1).await.unwrap();
    let over = import(&app, &ana, std::slice::from_ref(&file)).await;
    assert!(over[0].error.as_deref().unwrap().contains("limit per file"), "{:?}", over[0].error);

    library::set_max_file_bytes(&app, &ana, library::DEFAULT_MAX_FILE_BYTES).await.unwrap();
    // Plans are data: shrink FREE's storage to just under this file.
    support::execute(&app, "UPDATE plans SET max_storage_bytes = $1 WHERE name = 'FREE'", &[Bind::Int(size as i64 - 1)]).await;
    let quota = import(&app, &ana, std::slice::from_ref(&file)).await;
    let error = quota[0].error.as_deref().unwrap();
    assert!(error.contains("of your FREE plan's"), "{error}");
    assert!(stored_files(&app).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_importing_at_once_cannot_pass_the_storage_quota_together() {
    let (dir, app, ana) = setup().await;
    // Two different files, and a quota with room for one of them only.
    let first = make_video(dir.path(), "first", "mp4", &["-metadata", "title=first"]);
    let second = make_video(dir.path(), "second", "mp4", &["-metadata", "title=second"]);
    let sizes = [std::fs::metadata(&first).unwrap().len(), std::fs::metadata(&second).unwrap().len()];
    let quota = sizes[0].max(sizes[1]) + sizes[0].min(sizes[1]) / 2;
    support::execute(&app, "UPDATE plans SET max_storage_bytes = $1 WHERE name = 'FREE'", &[Bind::Int(quota as i64)]).await;

    // Another process on the same data dir (the CLI while the window imports): each queues and
    // runs its own import, both checking the quota before either has recorded its video.
    let other = open(app.data_dir(), KeyringPreference::File).await;
    let (ids_a, _) = library::import(&app, &ana, &[first]).await.unwrap();
    let (ids_b, _) = library::import(&other, &ana, &[second]).await.unwrap();
    let (a, b) = tokio::join!(jobs::run_until_done(&app, &ids_a), jobs::run_until_done(&other, &ids_b));
    let outcomes = [a.unwrap().remove(0), b.unwrap().remove(0)];
    let succeeded = outcomes.iter().filter(|j| j.status == JobStatus::Succeeded).count();
    assert_eq!(succeeded, 1, "exactly one fits: {outcomes:?}");
    let refused = outcomes.iter().find(|j| j.status == JobStatus::Failed).unwrap();
    assert!(refused.error.as_deref().unwrap().contains("of your FREE plan's"), "{refused:?}");
    let page = library::list(&app, &ana, &VideoQuery::default()).await.unwrap();
    assert_eq!(page.total, 1);
    assert!(page.items[0].size_bytes as u64 <= quota);

    // The refused import held nothing afterwards: removing the imported video frees the room,
    // and the other file now fits.
    library::remove(&app, &ana, page.items[0].id).await.unwrap();
    let again = make_video(dir.path(), "third", "mp4", &["-metadata", "title=third"]);
    assert_eq!(import(&app, &ana, &[again]).await[0].status, JobStatus::Succeeded);
}

#[tokio::test]
async fn an_import_a_crash_left_running_is_resumed_once_its_lease_expires() {
    let (dir, app, ana) = setup().await;
    let file = make_video(dir.path(), "clip", "mp4", &[]);
    let (ids, _) = library::import(&app, &ana, &[file]).await.unwrap();
    // The crash: the job was claimed (running) by a process and had started copying.
    let claimed = app.testing_db().claim_job("a-process-that-dies", None).await.unwrap().unwrap();
    assert_eq!(claimed.id, ids[0]);
    let lib = app.data_dir().join("library").join(ana.id.to_string());
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join(format!(".import-{}.part", ids[0])), b"half a copy").unwrap();
    let data_dir = app.data_dir().to_path_buf();
    drop(app);

    let restarted = open(&data_dir, KeyringPreference::File).await;
    // Its lease is fresh: as far as anyone can tell that process still runs it.
    jobs::recover(&restarted).await.unwrap();
    assert_eq!(restarted.testing_db().job(ids[0]).await.unwrap().unwrap().status, JobStatus::Running, "a live lease is not taken");
    // Its process never renews it: 10 s on, the job is recovered.
    support::execute(&restarted, "UPDATE jobs SET heartbeat_at = @now-$1 WHERE id = $2", &[Bind::Real(11.0), Bind::Int(ids[0])]).await;
    jobs::recover(&restarted).await.unwrap();
    assert_eq!(restarted.testing_db().job(ids[0]).await.unwrap().unwrap().status, JobStatus::Queued);
    let done = jobs::run_until_done(&restarted, &ids).await.unwrap();
    assert_eq!(done[0].status, JobStatus::Succeeded);
    assert_eq!(done[0].attempts, 2);
    assert_eq!(library::list(&restarted, &ana, &VideoQuery::default()).await.unwrap().total, 1);
    assert!(!stored_files(&restarted).iter().any(|p| p.to_string_lossy().contains(".import-")));
}

#[tokio::test]
async fn search_filters_sort_and_pages_work_together() {
    let (dir, app, ana) = setup().await;
    let files = vec![
        make_video(dir.path(), "Morning stream", "mp4", &[]),
        make_video(dir.path(), "Evening stream", "webm", &[]),
        make_video(dir.path(), "Speedrun 100%", "flv", &["-s", "1280x720"]),
    ];
    import(&app, &ana, &files).await;
    let q = |f: fn(&mut VideoQuery)| {
        let mut q = VideoQuery { sort: Sort::Title, descending: false, ..Default::default() };
        f(&mut q);
        q
    };
    let titles = |page: library::VideoPage| page.items.into_iter().map(|v| v.title).collect::<Vec<_>>();
    assert_eq!(titles(library::list(&app, &ana, &q(|q| q.search = Some("STREAM".into()))).await.unwrap()), ["Evening stream", "Morning stream"]);
    // LIKE wildcards in a search are taken literally.
    assert_eq!(titles(library::list(&app, &ana, &q(|q| q.search = Some("100%".into()))).await.unwrap()), ["Speedrun 100%"]);
    assert!(library::list(&app, &ana, &q(|q| q.search = Some("_".into()))).await.unwrap().items.is_empty());
    assert_eq!(titles(library::list(&app, &ana, &q(|q| q.format = Some(Container::Webm))).await.unwrap()), ["Evening stream"]);
    assert_eq!(titles(library::list(&app, &ana, &q(|q| q.min_height = Some(720))).await.unwrap()), ["Speedrun 100%"]);
    assert_eq!(library::list(&app, &ana, &q(|q| q.min_duration_sec = Some(10.0))).await.unwrap().total, 0);
    let page = library::list(&app, &ana, &q(|q| {
        q.limit = 2;
        q.offset = 2;
    }))
    .await
    .unwrap();
    assert_eq!((page.total, titles(page)), (3, vec!["Speedrun 100%".to_string()]));
    let by_size = library::list(&app, &ana, &q(|q| {
        q.sort = Sort::Size;
        q.descending = true;
    }))
    .await
    .unwrap();
    assert!(by_size.items.windows(2).all(|w| w[0].size_bytes >= w[1].size_bytes));

    // Another profile sees none of them.
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    assert_eq!(library::list(&app, &bo, &VideoQuery::default()).await.unwrap().total, 0);
}

/// Issue 29: the one job worker serves profiles in turn. Ana queues four imports, then Bo one:
/// Bo's runs second (Ana's first was already the oldest), not after all of Ana's.
#[tokio::test]
async fn the_job_worker_serves_profiles_in_turn_so_one_profiles_queue_never_starves_another() {
    let (dir, app, ana) = setup().await;
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    let anas: Vec<PathBuf> = (0..4).map(|i| make_video(dir.path(), &format!("ana{i}"), "mp4", &["-t", "1", "-vf", &format!("hue=h={}", i * 40)])).collect();
    let bos = make_video(dir.path(), "bo", "mp4", &["-t", "1", "-vf", "negate"]);
    library::import(&app, &ana, &anas).await.unwrap();
    library::import(&app, &bo, &[bos]).await.unwrap();
    // One job at a time; whose library grew says who was served.
    let count = |who: &Profile| {
        let (app, who) = (app.clone(), who.clone());
        async move { library::list(&app, &who, &VideoQuery::default()).await.unwrap().total }
    };
    let mut order = Vec::new();
    let mut seen = (0, 0);
    while jobs::run_one(&app, None).await.unwrap() {
        let now = (count(&ana).await, count(&bo).await);
        order.push(if now.0 > seen.0 { "ana" } else if now.1 > seen.1 { "bo" } else { "nobody" });
        seen = now;
    }
    assert_eq!(order, ["ana", "bo", "ana", "ana", "ana"], "served in turn");
}

/// Issue 29: prepared copies are a bounded cache. Each start at a new quality made a copy that
/// nothing counted or deleted, not even removing the video. Now a video keeps at most four
/// qualities (the least recently used goes), all copies stay within the data dir's budget, and
/// they leave with their video.
#[tokio::test]
async fn prepared_copies_are_bounded_per_video_and_by_the_budget_and_leave_with_their_video() {
    let (dir, app, ana) = setup().await;
    let file = make_video(dir.path(), "clip", "mp4", &["-t", "1"]);
    let video_id = import(&app, &ana, &[file]).await[0].video_id.unwrap();
    let video = library::get(&app, &ana, video_id).await.unwrap();
    let prepared = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(app.data_dir().join("prepared"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect())
            .unwrap_or_default();
        names.sort();
        names
    };
    let quality = |fps: u32| twitcher_core::broadcast::Quality { fps, video_bitrate_k: 300, audio_bitrate_k: 64, width: 320, height: 180 };
    for fps in [24, 25, 30, 48, 60] {
        twitcher_core::broadcast::prepare::ensure_prepared(&app, &ana, &video, &quality(fps)).await.unwrap();
    }
    let kept = prepared();
    assert_eq!(kept.len(), 4, "{kept:?}");
    assert!(!kept.iter().any(|n| n.contains("-24fps-")), "the least recently used went: {kept:?}");

    // A budget smaller than two copies: only the most recently used stays.
    let one = std::fs::metadata(app.data_dir().join("prepared").join(&kept[0])).unwrap().len();
    support::execute(
        &app,
        "INSERT INTO settings (key, value) VALUES ('storage.prepared_budget_bytes', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[Bind::Text(&(one * 3 / 2).to_string())],
    )
    .await;
    // A use in a later millisecond than the last preparation (uses are ordered by their time).
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    twitcher_core::broadcast::prepare::ensure_prepared(&app, &ana, &video, &quality(30)).await.unwrap();
    twitcher_core::broadcast::prepare::evict(&app, None).await.unwrap();
    let kept = prepared();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].contains("-30fps-"), "the one used last: {kept:?}");
    let usage = twitcher_core::disk::usage(&app).await.unwrap();
    assert!(usage.prepared_bytes > 0 && usage.prepared_bytes <= usage.budget_bytes, "within the budget: {usage:?}");
    assert!(usage.library_bytes > 0 && usage.free_bytes > 0, "{usage:?}");

    // Removing the video removes its copies.
    library::remove(&app, &ana, video_id).await.unwrap();
    assert_eq!(prepared(), Vec::<String>::new());
}

/// Issue 29: a profile's prepared copies count against its plan's storage, with its library. Bo
/// (FREE, room for his library and one and a half copies) starts at three qualities: each new copy
/// pushes his least recently used one out, so he keeps one; Ana (PRO) keeps all three of hers.
/// The copy just made always stays — a copy is a cache, it never stops a start.
#[tokio::test]
async fn a_profiles_prepared_copies_count_against_its_plan_storage_and_the_oldest_go_first() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(&dir.path().join("data"), KeyringPreference::File).await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap();
    let ana = profiles::set_plan(&app, &ana.profile, &ana.uuid.to_string(), Plan::Pro).await.unwrap();
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    assert_eq!(bo.plan, Plan::Free);
    let quality = |fps: u32| twitcher_core::broadcast::Quality { fps, video_bitrate_k: 300, audio_bitrate_k: 64, width: 320, height: 180 };
    let mine = |who: &Profile, name: &str, filter: &str| {
        let file = make_video(dir.path(), name, "mp4", &["-t", "1", "-vf", filter]);
        let (app, who) = (app.clone(), who.clone());
        async move {
            let id = import(&app, &who, &[file]).await[0].video_id.unwrap();
            library::get(&app, &who, id).await.unwrap()
        }
    };
    let anas = mine(&ana, "ana", "hue=h=90").await;
    let bos = mine(&bo, "bo", "negate").await;
    // A copy is named by its video's content and its quality.
    let copies = |video: &library::Video| -> Vec<String> {
        let hash = video.content_hash.clone().unwrap();
        let mut fps: Vec<String> = std::fs::read_dir(app.data_dir().join("prepared"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&hash))
            .filter_map(|n| n.split('-').find(|p| p.ends_with("fps")).map(str::to_string))
            .collect();
        fps.sort();
        fps
    };

    // One copy's size, then Bo's plan: his library and one and a half copies.
    twitcher_core::broadcast::prepare::ensure_prepared(&app, &bo, &bos, &quality(24)).await.unwrap();
    let one = std::fs::read_dir(app.data_dir().join("prepared")).unwrap().flatten().map(|e| e.metadata().unwrap().len()).max().unwrap();
    let mut free = profiles::plans(&app).await.unwrap()[0].1;
    free.max_storage_bytes = Some(bos.size_bytes as u64 + one * 3 / 2);
    profiles::set_plan_limits(&app, &ana, Plan::Free, &free).await.unwrap();

    for fps in [25, 30] {
        // Uses are ordered by their time: each in a later millisecond.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        twitcher_core::broadcast::prepare::ensure_prepared(&app, &bo, &bos, &quality(fps)).await.unwrap();
        twitcher_core::broadcast::prepare::ensure_prepared(&app, &ana, &anas, &quality(fps)).await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    twitcher_core::broadcast::prepare::ensure_prepared(&app, &ana, &anas, &quality(24)).await.unwrap();
    assert_eq!(copies(&bos), ["30fps"], "Bo keeps the copy he used last, within his plan");
    assert_eq!(copies(&anas), ["24fps", "25fps", "30fps"], "Ana's plan has room for all of hers");

    // The runtime's disk watch holds the same line after the plan shrinks: Bo's last copy goes
    // once his library alone fills it (no broadcast plays it).
    free.max_storage_bytes = Some(bos.size_bytes as u64);
    profiles::set_plan_limits(&app, &ana, Plan::Free, &free).await.unwrap();
    twitcher_core::broadcast::prepare::evict(&app, None).await.unwrap();
    assert_eq!(copies(&bos), Vec::<String>::new());
    assert_eq!(copies(&anas).len(), 3);
}

/// Issue 29: FFmpeg killed from outside while it prepares a copy (the OOM killer, an
/// administrator) is not the file's fault: the job is tried again and the copy is made, instead
/// of the preparation failing for good and the video marked unplayable at that quality.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preparation_whose_ffmpeg_is_killed_from_outside_is_tried_again_and_the_copy_is_made() {
    let (dir, app, ana) = setup().await;
    let file = make_video(dir.path(), "killed midway", "mp4", &["-t", "20"]);
    let video_id = import(&app, &ana, &[file]).await[0].video_id.unwrap();
    let video = library::get(&app, &ana, video_id).await.unwrap();
    let quality = twitcher_core::broadcast::Quality { fps: 30, video_bitrate_k: 2500, audio_bitrate_k: 160, width: 1280, height: 720 };
    let job = twitcher_core::broadcast::prepare::enqueue(&app, &ana, &video, &quality).await.unwrap();
    let worker = tokio::spawn({
        let app = app.clone();
        async move { jobs::run_until_done(&app, &[job]).await.unwrap() }
    });
    let mut killed = 0;
    twitcher_testkit::wait_until(std::time::Duration::from_secs(60), "FFmpeg preparing", || {
        let pids = twitcher_testkit::children_named(std::process::id(), "ffmpeg");
        for pid in &pids {
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        killed = pids.len();
        killed > 0
    });
    let done = worker.await.unwrap();
    assert_eq!(done[0].status, JobStatus::Succeeded, "{:?}", done[0].error);
    assert_eq!(done[0].attempts, 2, "tried again once");
    let hash = video.content_hash.clone().unwrap();
    let copies: Vec<String> = std::fs::read_dir(app.data_dir().join("prepared"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&hash) && n.ends_with(".flv"))
        .collect();
    assert_eq!(copies.len(), 1, "the copy is made ({killed} FFmpeg killed): {copies:?}");
}

#[tokio::test]
async fn edit_and_remove_and_removal_is_refused_while_a_stream_uses_the_video() {
    let (dir, app, ana) = setup().await;
    import(&app, &ana, &[make_video(dir.path(), "a", "mp4", &[]), make_video(dir.path(), "b", "ogg", &[])]).await;
    let items = library::list(&app, &ana, &VideoQuery { sort: Sort::Title, descending: false, ..Default::default() }).await.unwrap().items;
    let (a, b) = (&items[0], &items[1]);

    let edited = library::update(&app, &ana, a.id, "  New title ", "About it").await.unwrap();
    assert_eq!((edited.title.as_str(), edited.description.as_str()), ("New title", "About it"));
    assert!(matches!(library::update(&app, &ana, a.id, " ", "").await, Err(LibraryError::InvalidTitle(_))));

    support::execute(&app, "INSERT INTO streams (creator_id, video_id, broadcast_id, status) VALUES ($1, $2, 'b1', 'live')", &[Bind::Int(ana.id), Bind::Int(b.id)]).await;
    assert!(matches!(library::remove(&app, &ana, b.id).await, Err(LibraryError::InUse { .. })));
    assert!(PathBuf::from(b.local_path.as_ref().unwrap()).exists());

    library::remove(&app, &ana, a.id).await.unwrap();
    assert!(!PathBuf::from(a.local_path.as_ref().unwrap()).exists());
    assert!(!PathBuf::from(a.thumbnail.as_ref().unwrap()).exists());
    assert!(matches!(library::get(&app, &ana, a.id).await, Err(LibraryError::NotFound { .. })));

    support::execute(&app, "UPDATE streams SET status = 'ended'", &[]).await;
    library::remove(&app, &ana, b.id).await.unwrap();
    assert!(stored_files(&app).is_empty());
}

#[tokio::test]
async fn waiting_for_ones_own_import_never_runs_another_profiles_queued_job() {
    let (dir, app, ana) = setup().await;
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    let (theirs, _) = library::import(&app, &bo, &[make_video(dir.path(), "theirs", "mp4", &[])]).await.unwrap();
    let (mine, _) = library::import(&app, &ana, &[make_video(dir.path(), "mine", "mp4", &[])]).await.unwrap();
    let done = jobs::run_until_done(&app, &mine).await.unwrap();
    assert_eq!(done[0].status, JobStatus::Succeeded);
    assert_eq!(app.testing_db().job(theirs[0]).await.unwrap().unwrap().status, JobStatus::Queued, "Bo's job waits for a worker");
}

#[tokio::test]
async fn a_profile_cancels_only_its_own_jobs_and_an_admin_any() {
    let (dir, app, admin) = setup().await;
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    let cy = profiles::register(&app, Some("Cy")).await.unwrap().profile;
    let queue = |who: Profile, name: &'static str| {
        let (app, dir) = (app.clone(), dir.path().to_path_buf());
        async move {
            let file = make_video(&dir, name, "mp4", &["-t", "1"]);
            // Queued only: nothing runs jobs in this test until asked.
            library::import(&app, &who, &[file]).await.unwrap().0[0]
        }
    };
    let (bos, cys) = (queue(bo.clone(), "bo").await, queue(cy.clone(), "cy").await);
    assert!(!jobs::cancel_for(&app, &cy, bos).await.unwrap(), "Cy cannot cancel Bo's import");
    assert!(!jobs::cancel_for(&app, &cy, 999_999).await.unwrap(), "and it looks like one that does not exist");
    assert!(jobs::cancel_for(&app, &bo, bos).await.unwrap(), "Bo cancels his own");
    assert!(jobs::cancel_for(&app, &admin, cys).await.unwrap(), "the ADMIN cancels anyone's");
    let done = jobs::run_until_done(&app, &[bos, cys]).await.unwrap();
    assert!(done.iter().all(|j| j.status == JobStatus::Cancelled), "{done:?}");
}

/// Children of this test process whose name says FFmpeg.
fn ffmpeg_children() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            let (name, rest) = (stat.split(['(', ')']).nth(1).unwrap_or(""), stat.rsplit(')').next().unwrap_or(""));
            let ppid: u32 = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            let zombie = rest.split_whitespace().next() == Some("Z");
            ppid == me && !zombie && name.contains("ffmpeg")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_long_preparation_ends_its_ffmpeg_at_once_and_leaves_no_partial_file() {
    let (dir, app, ana) = setup().await;
    // Long enough that the encode is still running when cancelled.
    let file = make_video(dir.path(), "long", "mp4", &["-t", "60"]);
    let video_id = import(&app, &ana, &[file]).await[0].video_id.unwrap();
    let video = library::get(&app, &ana, video_id).await.unwrap();
    let quality = twitcher_core::broadcast::Quality { fps: 30, video_bitrate_k: 3000, audio_bitrate_k: 128, width: 1280, height: 720 };
    let job = twitcher_core::broadcast::prepare::enqueue(&app, &ana, &video, &quality).await.unwrap();
    let runner = tokio::spawn({
        let app = app.clone();
        async move { jobs::run_until_done(&app, &[job]).await.unwrap() }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ffmpeg_children().is_empty() || app.testing_db().job(job).await.unwrap().unwrap().progress < 0.1 {
        assert!(std::time::Instant::now() < deadline, "the preparation's encode never got going");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let asked = std::time::Instant::now();
    assert!(jobs::cancel(&app, job).await.unwrap());
    let done = runner.await.unwrap();
    assert_eq!(done[0].status, JobStatus::Cancelled, "{done:?}");
    // Asked with `q`, killed within the grace if it lingers: gone well before the encode's end.
    assert!(asked.elapsed() < std::time::Duration::from_secs(8), "took {:?}", asked.elapsed());
    assert_eq!(ffmpeg_children(), Vec::<u32>::new(), "no FFmpeg left running");
    let prepared = app.data_dir().join("prepared");
    let left: Vec<_> = std::fs::read_dir(&prepared).map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "nothing left in {}: {left:?}", prepared.display());
}
