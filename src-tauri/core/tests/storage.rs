//! S3 storage against a real S3-compatible server (moto) on loopback: settings, precise
//! connection errors, single and multipart uploads, a cancelled-then-resumed upload, fetching
//! back, and removal from both places.

mod support;

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use support::{database_bytes, make_video, open, S3Server};
use twitcher_core::events::Event;
use twitcher_core::jobs::{self, JobStatus};
use twitcher_core::library::{self, Storage, Video, VideoQuery};
use twitcher_core::profiles::{self, Profile};
use twitcher_core::storage::{self, S3Settings, SettingsSource, StorageError};
use twitcher_core::vault::KeyringPreference;
use twitcher_core::Twitcher;

const SECRET: &str = "moto-secret-key-VeRySeCrEt-0042";

fn settings(endpoint: &str, bucket: &str) -> S3Settings {
    S3Settings { endpoint: Some(endpoint.into()), bucket: bucket.into(), region: "us-east-1".into(), access_key: "test".into(), path_style: true }
}

async fn setup(server: &S3Server) -> (tempfile::TempDir, Twitcher, Profile) {
    let dir = tempfile::tempdir().unwrap();
    let app = open(&dir.path().join("data"), KeyringPreference::File).await;
    let profile = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    server.create_bucket("videos").await;
    storage::save_settings(&app, &profile, &settings(&server.endpoint, "videos"), Some(SECRET)).await.unwrap();
    (dir, app, profile)
}

async fn import_one(app: &Twitcher, who: &Profile, path: PathBuf) -> Video {
    let (ids, _) = library::import(app, who, &[path]).await.unwrap();
    let done = jobs::run_until_done(app, &ids).await.unwrap();
    assert_eq!(done[0].status, JobStatus::Succeeded, "{:?}", done[0].error);
    library::get(app, who, done[0].video_id.unwrap()).await.unwrap()
}

fn sha(path: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[tokio::test]
async fn settings_are_saved_with_the_secret_sealed_and_connection_errors_are_precise() {
    let Some(server) = S3Server::start() else { return };
    let (dir, app, ana) = setup(&server).await;
    let status = storage::status(&app).await.unwrap();
    assert_eq!((status.source, status.has_secret_key), (SettingsSource::Saved, true));
    assert_eq!(status.settings.unwrap().bucket, "videos");
    storage::test_connection(&app).await.unwrap();
    for (name, bytes) in database_bytes(&dir.path().join("data")) {
        assert!(!support::contains(&bytes, "VeRySeCrEt"), "{name} holds the S3 secret key");
    }

    // Keeping the secret: saving without one keeps the sealed key.
    storage::save_settings(&app, &ana, &settings(&server.endpoint, "missing-bucket"), None).await.unwrap();
    let err = storage::test_connection(&app).await.unwrap_err().to_string();
    assert!(err.contains("bucket 'missing-bucket' does not exist"), "{err}");

    storage::save_settings(&app, &ana, &settings("http://127.0.0.1:9", "videos"), None).await.unwrap();
    let err = storage::test_connection(&app).await.unwrap_err().to_string();
    assert!(err.contains("cannot reach http://127.0.0.1:9"), "{err}");
    assert!(!err.contains(SECRET));

    for bad in [settings(&server.endpoint, "Bad_Bucket"), settings("ftp://x", "videos"), S3Settings { access_key: " ".into(), ..settings(&server.endpoint, "videos") }] {
        assert!(matches!(storage::save_settings(&app, &ana, &bad, None).await, Err(StorageError::Invalid(_))));
    }
}

#[tokio::test]
async fn a_video_goes_to_s3_comes_back_into_the_cache_and_is_removed_from_both() {
    let Some(server) = S3Server::start() else { return };
    let (dir, app, ana) = setup(&server).await;
    let source = make_video(dir.path(), "..clip", "mp4", &[]);
    let video = import_one(&app, &ana, source.clone()).await;
    library::update(&app, &ana, video.id, "../../../etc/passwd", "").await.unwrap();
    let library_copy = PathBuf::from(video.local_path.clone().unwrap());

    let job = storage::upload(&app, &ana, video.id).await.unwrap();
    let done = jobs::run_until_done(&app, &[job]).await.unwrap();
    assert_eq!(done[0].status, JobStatus::Succeeded, "{:?}", done[0].error);
    let uploaded = library::get(&app, &ana, video.id).await.unwrap();
    assert_eq!(uploaded.storage, Storage::S3);
    let key = uploaded.s3_key.clone().unwrap();
    // Namespaced per profile, named by content: the title's path tricks never reach the key.
    assert_eq!(key, format!("twitcher/{}/{}.mp4", ana.id, video.content_hash.as_deref().unwrap()));
    assert!(!library_copy.exists(), "the library copy is gone once the bucket has it");
    let listed = server.client().list_objects_v2().bucket("videos").send().await.unwrap();
    assert_eq!(listed.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), [key.as_str()]);

    let local = storage::ensure_local(&app, &uploaded).await.unwrap();
    assert!(local.starts_with(app.data_dir().join("cache")));
    assert_eq!(sha(&local), sha(&source));
    let cached = library::get(&app, &ana, video.id).await.unwrap();
    assert_eq!(storage::ensure_local(&app, &cached).await.unwrap(), local, "a second call reuses the cache");
    assert_eq!(library::list(&app, &ana, &VideoQuery { storage: Some(Storage::S3), ..Default::default() }).await.unwrap().total, 1);

    library::remove(&app, &ana, video.id).await.unwrap();
    assert!(!local.exists());
    let listed = server.client().list_objects_v2().bucket("videos").send().await.unwrap();
    assert!(listed.contents().is_empty());
}

#[tokio::test]
async fn a_multipart_upload_cancelled_midway_resumes_where_it_stopped() {
    let Some(server) = S3Server::start() else { return };
    let (dir, app, ana) = setup(&server).await;
    storage::set_part_bytes(&app, 5 * 1024 * 1024).await.unwrap();
    // Uncompressed video: about 17 MB, so four 5 MiB parts.
    let source = make_video(dir.path(), "raw", "avi", &["-c:v", "rawvideo", "-pix_fmt", "yuv420p", "-t", "2"]);
    assert!(std::fs::metadata(&source).unwrap().len() > 3 * 5 * 1024 * 1024);
    let video = import_one(&app, &ana, source.clone()).await;

    // Cancel as soon as the first part is reported.
    let job = storage::upload(&app, &ana, video.id).await.unwrap();
    let mut events = app.events.subscribe();
    let canceller = {
        let app = app.clone();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let Event::Job(e) = event {
                    if e.job_id == job && e.status == JobStatus::Running && e.progress > 0.0 {
                        jobs::cancel(&app, job).await.unwrap();
                        return;
                    }
                }
            }
        })
    };
    let first = jobs::run_until_done(&app, &[job]).await.unwrap();
    canceller.await.unwrap();
    assert_eq!(first[0].status, JobStatus::Cancelled);
    assert_eq!(library::get(&app, &ana, video.id).await.unwrap().storage, Storage::Local);
    let open_uploads = server.client().list_multipart_uploads().bucket("videos").send().await.unwrap();
    assert_eq!(open_uploads.uploads().len(), 1, "the multipart upload stays open for a resume");

    let again = storage::upload(&app, &ana, video.id).await.unwrap();
    let second = jobs::run_until_done(&app, &[again]).await.unwrap();
    assert_eq!(second[0].status, JobStatus::Succeeded, "{:?}", second[0].error);
    let payload: serde_json::Value = serde_json::from_str(&second[0].payload).unwrap();
    let resumed = payload["resumed_parts"].as_u64().unwrap();
    assert!((1..4).contains(&resumed), "resumed after {resumed} parts");

    let uploaded = library::get(&app, &ana, video.id).await.unwrap();
    let head = server.client().head_object().bucket("videos").key(uploaded.s3_key.as_deref().unwrap()).send().await.unwrap();
    assert_eq!(head.content_length(), Some(std::fs::metadata(&source).unwrap().len() as i64));
    assert_eq!(sha(&storage::ensure_local(&app, &uploaded).await.unwrap()), sha(&source));
    assert!(server.client().list_multipart_uploads().bucket("videos").send().await.unwrap().uploads().is_empty());
}

#[tokio::test]
async fn without_settings_uploads_say_how_to_set_s3_up() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    let ana = profiles::register(&app, None).await.unwrap().profile;
    let source = make_video(dir.path(), "clip", "mp4", &[]);
    let video = import_one(&app, &ana, source).await;
    let err = storage::upload(&app, &ana, video.id).await.unwrap_err();
    assert!(matches!(err, StorageError::NotConfigured), "{err:?}");
    assert!(err.to_string().contains("S3_BUCKET_NAME"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcasts_log_goes_to_the_bucket_while_it_runs_and_when_it_ends_redacted_and_leaves_after_30_days() {
    use twitcher_core::accounts::{self, AccountInput};
    use twitcher_core::broadcast::{self, archive, EngineOptions, Quality, StartRequest};
    let server = S3Server::start().expect("moto (scripts/setup.sh installs it)");
    let ingest = support::Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    // Hourly in production; every 2 s here.
    let engine = EngineOptions { log_archive_every: std::time::Duration::from_secs(2), ..Default::default() };
    let app = support::open_with_engine(&dir.path().join("data"), KeyringPreference::File, "http://127.0.0.1:9/unreachable", engine).await;
    let registered = profiles::register(&app, Some("Ana")).await.unwrap();
    let (ana, uuid) = (registered.profile, registered.uuid);
    server.create_bucket("logs").await;
    storage::save_settings(&app, &ana, &settings(&server.endpoint, "logs"), Some(SECRET)).await.unwrap();
    let video = import_one(&app, &ana, make_video(dir.path(), "clip", "mp4", &["-t", "6"])).await;
    let key = "live_4242_ArchivedStreamKeySecret99";
    let input = AccountInput { display_name: "Main".into(), channel_id: Some("4242".into()), login: None, ingest_server: Some(ingest.server()) };
    let account = accounts::add(&app, &ana, &input, key).await.unwrap();
    let quality = Quality { fps: 30, video_bitrate_k: 800, audio_bitrate_k: 128, width: 640, height: 360 };
    let request = StartRequest { video_id: Some(video.id), playlist_id: None, account_ids: vec![account.id], title: "Archived".into(), category: None, tags: vec![], quality, looped: false, live_encode: false };
    let handle = broadcast::start(&app, &ana, &request).await.unwrap();
    let broadcast_id = handle.broadcast_id.clone();
    let read = |client: aws_sdk_s3::Client, key: String| async move {
        match client.get_object().bucket("logs").key(&key).send().await {
            Ok(o) => Some(String::from_utf8(o.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()),
            Err(_) => None,
        }
    };
    let object = archive::object_key(chrono::Utc::now(), &broadcast_id);
    // The log in the bucket once it holds `word` (waiting up to `secs`).
    let log_with = |word: &'static str, secs: u64| {
        let (client, object) = (server.client(), object.clone());
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
            loop {
                if let Some(text) = read(client.clone(), object.clone()).await.filter(|t| t.contains(word)) {
                    return text;
                }
                assert!(std::time::Instant::now() < deadline, "no log with {word} in the bucket");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    // While it runs: written within a few seconds, with the destination live.
    let running = log_with("\"live\"", 5).await;
    assert!(!running.contains("\"ended\""), "{running}");
    handle.wait().await;
    // At its end: rewritten whole, one JSON line per event, the same as the database's log.
    let ended = log_with("\"ended\"", 10).await;
    let lines: Vec<serde_json::Value> = ended.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let stream_id = lines[0]["stream_id"].as_i64().unwrap();
    let log = broadcast::logs(&app, &ana, stream_id).await.unwrap();
    assert_eq!(lines.iter().map(|l| l["message"].as_str().unwrap().to_string()).collect::<Vec<_>>(), log.iter().map(|(_, _, m)| m.clone()).collect::<Vec<_>>());
    assert!(lines.iter().all(|l| l["account"] == "Main"));
    assert!(!ended.contains(key) && !ended.contains(&uuid.to_string()), "no key or profile UUID in the archived log");

    // Retention: logs of days 31+ days ago go, younger ones stay, and other objects are untouched.
    let old = "twitcher/logs/2026/10/01/0123456789abcdef.jsonl";
    let client = server.client();
    for k in [old, "twitcher/1/not-a-log.mp4"] {
        client.put_object().bucket("logs").key(k).body(aws_sdk_s3::primitives::ByteStream::from_static(b"{}")).send().await.unwrap();
    }
    let now = chrono::Utc::now().max(chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc));
    assert_eq!(archive::apply_retention(&app, now).await.unwrap(), 1);
    assert!(read(server.client(), old.to_string()).await.is_none(), "the October log is gone");
    assert!(read(server.client(), object.clone()).await.is_some(), "this broadcast's log stays");
    assert!(read(server.client(), "twitcher/1/not-a-log.mp4".to_string()).await.is_some());
}

#[tokio::test]
async fn the_download_cache_keeps_within_its_limit_dropping_the_least_recently_used() {
    let Some(server) = S3Server::start() else { return };
    let (dir, app, ana) = setup(&server).await;
    // Three different videos, all moved to the bucket (no library copy left).
    let mut videos = Vec::new();
    for name in ["a", "b", "c"] {
        let video = import_one(&app, &ana, make_video(dir.path(), name, "mp4", &["-metadata", &format!("title={name}")])).await;
        let job = storage::upload(&app, &ana, video.id).await.unwrap();
        assert_eq!(jobs::run_until_done(&app, &[job]).await.unwrap()[0].status, JobStatus::Succeeded);
        videos.push(video.id);
    }
    let get = |id: i64| {
        let (app, ana) = (app.clone(), ana.clone());
        async move { library::get(&app, &ana, id).await.unwrap() }
    };
    let size = get(videos[0]).await.size_bytes as u64;
    // Room for two of them.
    storage::set_cache_limit(&app, size * 2 + size / 2).await.unwrap();
    assert_eq!(storage::cache_limit(&app).await.unwrap(), size * 2 + size / 2);

    let a = storage::ensure_local(&app, &get(videos[0]).await).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let b = storage::ensure_local(&app, &get(videos[1]).await).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // A is used again: B is now the least recently used.
    assert_eq!(storage::ensure_local(&app, &get(videos[0]).await).await.unwrap(), a);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let c = storage::ensure_local(&app, &get(videos[2]).await).await.unwrap();
    assert!(a.exists() && c.exists(), "the two most recently used stay");
    assert!(!b.exists(), "the least recently used left the cache");

    // An evicted video is simply fetched again when needed, intact.
    let again = storage::ensure_local(&app, &get(videos[1]).await).await.unwrap();
    assert_eq!(sha(&again), sha(&dir.path().join("b.mp4")), "the same bytes as the file imported");
    let cached: u64 = std::fs::read_dir(app.data_dir().join("cache")).unwrap().flatten().map(|e| e.metadata().unwrap().len()).sum();
    assert!(cached <= size * 2 + size / 2, "{cached} bytes cached over the limit");
}
