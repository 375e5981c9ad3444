//! The streaming engine against a real RTMP ingest (nginx-rtmp on loopback, recording each stream
//! key to a file) with media ffmpeg makes at test time.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::{make_video, open, video_packets, Bind, Ingest};
use twitcher_core::accounts::{self, AccountInput};
use twitcher_core::broadcast::{self, BroadcastError, EngineOptions, Quality, StartRequest, StopTarget, StreamState};
use twitcher_core::jobs::{self, JobStatus};
use twitcher_core::library;
use twitcher_core::profiles::{self, Profile};
use twitcher_core::vault::KeyringPreference;
use twitcher_core::Twitcher;

/// These tests measure real-time streams: run them one at a time, so parallel transcodes on a
/// two-core machine do not starve the one being measured.
static REAL_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const QUALITY: Quality = Quality { fps: 30, video_bitrate_k: 1200, audio_bitrate_k: 128, width: 640, height: 360 };

struct Setup {
    _dir: tempfile::TempDir,
    app: Twitcher,
    ana: Profile,
    video_id: i64,
    /// (account id, stream key)
    accounts: Vec<(i64, String)>,
}

async fn setup(ingest: &Ingest, seconds: u32, destinations: usize) -> Setup {
    setup_with(ingest.server(), seconds, destinations, "mp4").await
}

async fn setup_with(server: String, seconds: u32, destinations: usize, format: &str) -> Setup {
    setup_engine(server, seconds, destinations, format, EngineOptions::default()).await
}

/// [`setup_with`] with the engine's test settings.
async fn setup_engine(server: String, seconds: u32, destinations: usize, format: &str, engine: EngineOptions) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let app = support::open_with_engine(&dir.path().join("data"), KeyringPreference::File, "http://127.0.0.1:9/unreachable", engine).await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let file = make_video(dir.path(), "clip", format, &["-t", &seconds.to_string()]);
    let (ids, _) = library::import(&app, &ana, &[file]).await.unwrap();
    let done = jobs::run_until_done(&app, &ids).await.unwrap();
    assert_eq!(done[0].status, JobStatus::Succeeded);
    let mut accounts_ = Vec::new();
    for i in 0..destinations {
        let key = format!("live_{}_{}", 100 + i, uuid::Uuid::new_v4().simple());
        let input = AccountInput {
            display_name: format!("Channel {i}"),
            channel_id: Some(format!("{}", 1000 + i)),
            login: None,
            ingest_server: Some(server.clone()),
        };
        let account = accounts::add(&app, &ana, &input, &key).await.unwrap();
        accounts_.push((account.id, key));
    }
    Setup { _dir: dir, app, ana, video_id: done[0].video_id.unwrap(), accounts: accounts_ }
}

/// A start time a month ahead: a broadcast that stays scheduled through the test.
fn in_a_month() -> String {
    (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn request(s: &Setup, looped: bool) -> StartRequest {
    StartRequest { video_id: Some(s.video_id), playlist_id: None, account_ids: s.accounts.iter().map(|a| a.0).collect(), title: "Test".into(), category: None, tags: vec![], quality: QUALITY, looped, live_encode: false }
}

fn probe_json(path: &std::path::Path) -> serde_json::Value {
    let out = twitcher_testkit::output_within(
        std::process::Command::new("ffprobe").args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"]).arg(path),
        Duration::from_secs(60),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_video_reaches_three_accounts_as_twitch_ready_recordings() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 12, 3).await;
    let handle = broadcast::start(&s.app, &s.ana, &request(&s, false)).await.unwrap();
    let stream_ids: Vec<i64> = handle.destinations.iter().map(|d| d.0).collect();
    let states = handle.wait().await;
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");

    for (_, key) in &s.accounts {
        let path = ingest.recording(key);
        let info = probe_json(&path);
        let streams = info["streams"].as_array().unwrap();
        let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
        let audio = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
        assert_eq!((video["codec_name"].as_str(), audio["codec_name"].as_str()), (Some("h264"), Some("aac")));
        let packets = video_packets(&path);
        let duration = packets.last().unwrap().0 - packets.first().unwrap().0 + 1.0 / 30.0;
        assert!((duration - 12.0).abs() <= 0.2, "duration {duration}");
        let keys: Vec<f64> = packets.iter().filter(|p| p.1).map(|p| p.0).collect();
        assert!(keys.len() >= 6, "{keys:?}");
        assert!(keys.windows(2).all(|w| ((w[1] - w[0]) - 2.0).abs() < 0.001), "keyframes every 2.000 s: {keys:?}");
        // Average video bitrate, from the packet sizes.
        let out = twitcher_testkit::output_within(
            std::process::Command::new("ffprobe").args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=size", "-of", "csv=p=0"]).arg(&path),
            Duration::from_secs(60),
        );
        let bytes: u64 = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse::<u64>().ok()).sum();
        let kbps = bytes as f64 * 8.0 / 1000.0 / duration;
        assert!((kbps - 1200.0).abs() / 1200.0 <= 0.10, "video bitrate {kbps:.0} kbps");
    }
    let rows = s.app.testing_db().streams(s.ana.id, 10, 0).await.unwrap();
    for id in stream_ids {
        let row = rows.iter().find(|r| r.id == id).unwrap();
        assert_eq!(row.status, StreamState::Ended);
        assert!(row.bytes_sent > 1_000_000, "{row:?}");
        assert!(row.started_at.is_some() && row.ended_at.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_continues_timestamps_across_passes_without_gaps() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 4, 1).await;
    let handle = broadcast::start(&s.app, &s.ana, &request(&s, true)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(12_500)).await;
    handle.stop_all();
    let states = handle.wait().await;
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");
    let packets = video_packets(&ingest.recording(&s.accounts[0].1));
    let span = packets.last().unwrap().0 - packets.first().unwrap().0;
    assert!(span > 11.0, "three passes: {span:.2} s");
    for w in packets.windows(2) {
        let step = w[1].0 - w[0].0;
        assert!(step > 0.0, "DTS must strictly increase: {:?} then {:?}", w[0], w[1]);
        assert!(step <= 1.0 / 30.0 + 0.0015, "gap of {:.3} s at {:.3}", step, w[0].0);
    }
}

/// Issue 29: a broadcast's supervisor that panics does not leave its destinations "live" under
/// a lease this process keeps renewing: they fail with a reason, the publishers stop, the part
/// leaves the registry, and the panic is counted in the process's health and announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_supervisor_that_panics_fails_its_destinations_with_a_reason_instead_of_leaving_them_live() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 6, 2).await;
    let mut events = s.app.events.subscribe();
    s.app.tasks().inject_panics(broadcast::supervisor::SUPERVISORS_TASK, 1);
    let handle = broadcast::start(&s.app, &s.ana, &request(&s, true)).await.unwrap();
    let states = tokio::time::timeout(Duration::from_secs(20), handle.wait()).await.expect("the broadcast ends at once");
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(states.values().all(|s| *s == StreamState::Failed), "{states:?}");
    for row in broadcast::list(&s.app, &s.ana, None, 0).await.unwrap() {
        assert_eq!(row.status, StreamState::Failed, "{row:?}");
        assert!(row.error.as_deref().is_some_and(|e| e.contains("internal error") && e.contains("start it again")), "{row:?}");
    }
    assert_eq!(s.app.broadcasts().count(), 0, "the part left the registry");
    let health = twitcher_core::health::this_process(&s.app);
    let supervisors = health.tasks.iter().find(|t| t.name == broadcast::supervisor::SUPERVISORS_TASK).expect("counted in the health table");
    assert_eq!(supervisors.restarts, 1, "{supervisors:?}");
    assert!(health.healthy, "one lost broadcast is announced, not a stalled process: {health:?}");
    let announced = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await.expect("an event").unwrap() {
            twitcher_core::events::Event::TaskFailing { task, error } => break (task, error),
            _ => continue,
        }
    };
    assert_eq!(announced.0, broadcast::supervisor::SUPERVISORS_TASK);
    assert!(announced.1.contains("injected"), "{announced:?}");
    // The publishers were told to stop: a moment later nothing more reaches the ingest.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let recorded = |key: &str| std::fs::metadata(ingest.recording(key)).map(|m| m.len()).unwrap_or(0);
    let before: Vec<u64> = s.accounts.iter().map(|(_, key)| recorded(key)).collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.accounts.iter().map(|(_, key)| recorded(key)).collect::<Vec<_>>(), before, "the recordings stopped growing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_destination_comes_back_and_the_others_lose_nothing() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 12, 3).await;
    let mut events = s.app.events.subscribe();
    // Alerts go to the surface's notifier and to the webhook.
    let (hook, posted) = support::webhook_receiver().await;
    twitcher_core::alerts::set_webhook_url(&s.app, &s.ana, &hook).await.unwrap();
    let notified = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = notified.clone();
    let stop_alerts = tokio_util::sync::CancellationToken::new();
    tokio::spawn(twitcher_core::alerts::run(s.app.clone(), stop_alerts.clone(), move |a| sink.lock().unwrap().push(a.clone())));
    let handle = broadcast::start(&s.app, &s.ana, &request(&s, false)).await.unwrap();
    let victim = handle.destinations[1].0;
    tokio::time::sleep(Duration::from_secs(4)).await;

    // While live: no process's argv holds a key.
    for dir in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(dir.path().join("cmdline")) {
            for (_, key) in &s.accounts {
                assert!(!support::contains(&cmdline, key), "{:?} has a stream key in its argv", dir.path());
            }
        }
    }

    let dropped_at = Instant::now();
    ingest.drop_publisher(&s.accounts[1].1);
    let mut back_live = None;
    let mut seen: HashMap<i64, Vec<StreamState>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && back_live.is_none() {
        if let Ok(Ok(twitcher_core::events::Event::Stream(status))) = tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            seen.entry(status.stream_id).or_default().push(status.state);
            if status.stream_id == victim && status.state == StreamState::Live && seen[&victim].contains(&StreamState::Reconnecting) {
                back_live = Some(dropped_at.elapsed());
            }
        }
    }
    let back = back_live.unwrap_or_else(|| panic!("no reconnect: {seen:?}"));
    assert!(back < Duration::from_secs(5), "back after {back:?}");
    let states = handle.wait().await;
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");

    for (i, (_, key)) in s.accounts.iter().enumerate() {
        let packets = video_packets(&ingest.recording(key));
        if i == 1 {
            continue;
        }
        for w in packets.windows(2) {
            assert!(w[1].0 - w[0].0 <= 1.0 / 30.0 + 0.0015, "destination {i}: gap at {:.3}", w[0].0);
        }
    }
    let rows = s.app.testing_db().streams(s.ana.id, 10, 0).await.unwrap();
    assert_eq!(rows.iter().find(|r| r.id == victim).unwrap().reconnects, 1);

    // Alerts: the loss, the recovery, the end — notified and posted to the webhook, keyless.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_alerts.cancel();
    use twitcher_core::alerts::Alert;
    let alerts = notified.lock().unwrap().clone();
    assert!(alerts.iter().any(|a| matches!(a, Alert::DestinationLost { stream_id, account, .. } if *stream_id == victim && account == "Channel 1")), "{alerts:?}");
    assert!(alerts.iter().any(|a| matches!(a, Alert::DestinationRecovered { stream_id, reconnects: 1, .. } if *stream_id == victim)), "{alerts:?}");
    assert!(matches!(alerts.last(), Some(Alert::BroadcastEnded { destinations: 3, failed: 0, .. })), "{alerts:?}");
    assert_eq!(alerts.iter().filter(|a| matches!(a, Alert::BroadcastEnded { .. })).count(), 1);
    let bodies = posted.lock().unwrap().clone();
    let kinds: Vec<&str> = bodies.iter().filter_map(|b| b["event"].as_str()).collect();
    assert_eq!(kinds, alerts.iter().map(|a| serde_json::to_value(a).unwrap()["event"].as_str().unwrap().to_string()).collect::<Vec<_>>(), "{bodies:?}");
    assert!(kinds.contains(&"destination_lost") && kinds.contains(&"destination_recovered") && kinds.contains(&"broadcast_ended"));
    assert_eq!(bodies[0]["app"], "twitcher");
    for body in &bodies {
        for (_, key) in &s.accounts {
            assert!(!body.to_string().contains(key.as_str()), "a webhook body holds a key");
        }
    }
    let log = s.app.testing_db().stream_events(s.ana.id, victim).await.unwrap().unwrap();
    assert!(log.iter().any(|(_, level, m)| level == "warn" && m.starts_with("reconnecting")), "{log:?}");
    // Neither the events nor the logs hold a key.
    for (_, _, message) in &log {
        for (_, key) in &s.accounts {
            assert!(!message.contains(key.as_str()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_destination_retried_goes_live_again_alone_and_the_other_never_notices() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let steady = Ingest::start();
    let mut down = Ingest::start();
    down.stop();
    let mut s = setup(&steady, 4, 1).await;
    let key = format!("live_200_{}", uuid::Uuid::new_v4().simple());
    let input = AccountInput { display_name: "Down channel".into(), channel_id: Some("2000".into()), login: None, ingest_server: Some(down.server()) };
    s.accounts.push((accounts::add(&s.app, &s.ana, &input, &key).await.unwrap().id, key.clone()));
    let handle = broadcast::start(&s.app, &s.ana, &request(&s, true)).await.unwrap();
    let (kept, failing) = (handle.destinations[0].0, handle.destinations[1].0);
    let status = |id| {
        let (app, ana) = (s.app.clone(), s.ana.clone());
        async move { broadcast::stream(&app, &ana, id).await.unwrap() }
    };
    let wait_for = |id, state: StreamState| {
        let status = &status;
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let row = status(id).await;
                if row.status == state {
                    return row;
                }
                assert!(Instant::now() < deadline, "stream {id} is {:?}, not {state:?}: {:?}", row.status, row.error);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // Its ingest is down: it fails after its attempts, with the reason; the other stays live.
    let failed = wait_for(failing, StreamState::Failed).await;
    assert!(failed.error.is_some(), "{failed:?}");
    assert_eq!(status(kept).await.status, StreamState::Live);
    // Only a failed destination can be retried.
    assert!(matches!(broadcast::retry(&s.app, &s.ana, kept).await, Err(BroadcastError::NotRetryable { .. })));

    down.start_again();
    broadcast::retry(&s.app, &s.ana, failing).await.unwrap();
    // A second retry of the same destination (another click, another process) does nothing.
    assert!(matches!(broadcast::retry(&s.app, &s.ana, failing).await, Err(BroadcastError::NotRetryable { .. })));
    let back = wait_for(failing, StreamState::Live).await;
    assert!(back.error.is_none(), "{back:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let other = status(kept).await;
    assert_eq!((other.status, other.reconnects), (StreamState::Live, 0), "the destination that never failed noticed: {other:?}");

    // Stopping the retried destination stops its new part, not the broadcast.
    assert!(s.app.broadcasts().stop_stream(failing));
    wait_for(failing, StreamState::Ended).await;
    assert_eq!(status(kept).await.status, StreamState::Live);
    s.app.broadcasts().stop_broadcast(&handle.broadcast_id);
    let states = handle.wait().await;
    assert_eq!(states[&kept], StreamState::Ended);
    assert_eq!(steady.publishes(&s.accounts[0].1), 1, "the steady destination published once, start to end");
    assert!(down.publishes(&key) >= 1);
    let log = s.app.testing_db().stream_events(s.ana.id, failing).await.unwrap().unwrap();
    assert!(log.iter().any(|(_, _, m)| m == "retried by hand"), "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_in_the_background_answers_before_the_preparation_and_goes_live_after_it() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 4, 1).await;
    let prepared = || async {
        let db = s.app.testing_db();
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM prepared_media").fetch_one(db.testing_pool()).await.unwrap()
    };
    assert_eq!(prepared().await, 0);
    let (broadcast_id, destinations) = broadcast::start_in_background(&s.app, &s.ana, &request(&s, true)).await.unwrap();
    // The answer came before the preparation: nothing prepared yet, the row waits for it.
    assert_eq!(prepared().await, 0, "start_in_background waited for the preparation");
    let row = broadcast::stream(&s.app, &s.ana, destinations[0].0).await.unwrap();
    assert!(matches!(row.status, StreamState::Queued | StreamState::Starting), "{row:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while broadcast::stream(&s.app, &s.ana, destinations[0].0).await.unwrap().status != StreamState::Live {
        assert!(Instant::now() < deadline, "not live after its preparation");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(prepared().await, 1);
    // A refusal is still the answer: no such video.
    let missing = StartRequest { video_id: Some(999_999), ..request(&s, true) };
    assert!(matches!(broadcast::start_in_background(&s.app, &s.ana, &missing).await, Err(BroadcastError::NoVideo { .. })));
    assert!(s.app.broadcasts().stop_broadcast(&broadcast_id));
    let deadline = Instant::now() + Duration::from_secs(20);
    while broadcast::stream(&s.app, &s.ana, destinations[0].0).await.unwrap().status != StreamState::Ended {
        assert!(Instant::now() < deadline, "not ended after its stop");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_source_fails_its_broadcast_with_a_clear_error() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 2, 1).await;
    // The library copy is damaged after import.
    let video = library::get(&s.app, &s.ana, s.video_id).await.unwrap();
    std::fs::write(video.local_path.as_ref().unwrap(), b"garbage").unwrap();
    let err = broadcast::start(&s.app, &s.ana, &request(&s, false)).await.err().unwrap();
    assert!(err.to_string().starts_with("the video could not be prepared: clip: FFmpeg could not prepare it"), "{err}");
    assert!(!err.to_string().contains(&s.app.data_dir().display().to_string()), "no path of the data dir in a message: {err}");
    let rows = s.app.testing_db().streams(s.ana.id, 10, 0).await.unwrap();
    assert_eq!(rows[0].status, StreamState::Failed);
    assert!(rows[0].error.as_deref().unwrap().contains("could not be prepared"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_order_reaches_only_the_profile_that_owns_the_broadcast() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 4, 1).await;
    let handle = broadcast::start(&s.app, &s.ana, &request(&s, true)).await.unwrap();
    let (broadcast_id, stream_id) = (handle.broadcast_id.clone(), handle.destinations[0].0);
    let bo = profiles::register(&s.app, Some("Bo")).await.unwrap().profile;
    assert_eq!(broadcast::stop(&s.app, &bo, StopTarget::All).await.unwrap(), 0);
    let theirs = StopTarget::Broadcast { broadcast_id: broadcast_id.clone(), account_id: None };
    assert!(matches!(broadcast::stop(&s.app, &bo, theirs.clone()).await, Err(BroadcastError::NoBroadcast { .. })));
    assert!(matches!(broadcast::stop(&s.app, &bo, StopTarget::Stream(stream_id)).await, Err(BroadcastError::NoStream { .. })));
    // None of that wrote an order: the owner's stop is the first to take.
    assert_eq!(broadcast::stop(&s.app, &s.ana, theirs.clone()).await.unwrap(), 1);
    let states = tokio::time::timeout(Duration::from_secs(10), handle.wait()).await.expect("the order ends the looping broadcast");
    assert_eq!(states.values().copied().collect::<Vec<_>>(), vec![StreamState::Ended]);
    assert_eq!(broadcast::stop(&s.app, &s.ana, theirs).await.unwrap(), 0, "nothing left to stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmps_through_a_tls_ingest_is_recorded_like_rtmp() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start_with_tls();
    // Trust the test's self-signed certificate (an option only tests set).
    let engine = EngineOptions { extra_ca: Some(ingest.tls.as_ref().unwrap().1.clone()), ..Default::default() };
    let s = setup_engine(ingest.tls_server(), 4, 1, "mp4", engine).await;
    let states = broadcast::start(&s.app, &s.ana, &request(&s, false)).await.unwrap().wait().await;
    let rows = s.app.testing_db().streams(s.ana.id, 1, 0).await.unwrap();
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?} {:?}", rows[0].error);
    let packets = video_packets(&ingest.recording(&s.accounts[0].1));
    let span = packets.last().unwrap().0 - packets.first().unwrap().0;
    assert!((span - 4.0).abs() < 0.3, "{span}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_format_is_prepared_and_streamed() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    for format in ["webm", "ogg", "avi", "mov", "wmv", "flv"] {
        let s = setup_with(ingest.server(), 2, 1, format).await;
        let states = broadcast::start(&s.app, &s.ana, &request(&s, false)).await.unwrap().wait().await;
        assert!(states.values().all(|s| *s == StreamState::Ended), "{format}: {states:?}");
        let info = probe_json(&ingest.recording(&s.accounts[0].1));
        let codecs: Vec<&str> = info["streams"].as_array().unwrap().iter().filter_map(|s| s["codec_name"].as_str()).collect();
        assert!(codecs.contains(&"h264") && codecs.contains(&"aac"), "{format}: {codecs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_destination_comes_back_after_the_ingest_restarts() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let mut ingest = Ingest::start();
    let s = setup(&ingest, 12, 3).await;
    let handle = broadcast::start(&s.app, &s.ana, &request(&s, false)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    ingest.restart();
    let states = handle.wait().await;
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");
    let rows = s.app.testing_db().streams(s.ana.id, 10, 0).await.unwrap();
    for row in rows {
        assert!(row.reconnects >= 1, "{row:?}");
        let log = s.app.testing_db().stream_events(s.ana.id, row.id).await.unwrap().unwrap();
        let live = log.iter().filter(|(_, _, m)| m == "live").count();
        assert!(live >= 2, "live again after the restart: {log:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_reconnect_before_twitchs_48_hour_limit_loses_nothing() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    // 47 h 50 min in production; 3 s here.
    let engine = EngineOptions { planned_reconnect: Duration::from_secs(3), ..Default::default() };
    let s = setup_engine(ingest.server(), 10, 1, "mp4", engine).await;
    let states = broadcast::start(&s.app, &s.ana, &request(&s, false)).await.unwrap().wait().await;
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");
    let row = &s.app.testing_db().streams(s.ana.id, 1, 0).await.unwrap()[0];
    assert!(row.reconnects >= 2, "{row:?}");
    let log = s.app.testing_db().stream_events(s.ana.id, row.id).await.unwrap().unwrap();
    assert!(log.iter().any(|(_, _, m)| m.contains("planned reconnect")), "{log:?}");
    let packets = video_packets(&ingest.recording(&s.accounts[0].1));
    let span = packets.last().unwrap().0 - packets.first().unwrap().0 + 1.0 / 30.0;
    assert!((span - 10.0).abs() <= 0.2, "nothing lost: {span:.2} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_broadcast_survives_a_restart_and_starts_on_time() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 3, 1).await;
    let at = support::db_time_in(&s.app, 3.0).await;
    let id = broadcast::schedule(&s.app, &s.ana, &request(&s, false), &at).await.unwrap();
    assert_eq!(s.app.testing_db().streams(s.ana.id, 1, 0).await.unwrap()[0].status, StreamState::Scheduled);

    // "Restart": a new process-like handle on the same data dir runs the scheduler.
    let data_dir = s.app.data_dir().to_path_buf();
    let restarted = open(&data_dir, KeyringPreference::File).await;
    broadcast::recover(&restarted).await.unwrap();
    assert_eq!(restarted.testing_db().streams(s.ana.id, 1, 0).await.unwrap()[0].status, StreamState::Scheduled, "recovery leaves the schedule alone");
    // The restarted process's background work, as the window and `serve` run it.
    let scheduler = twitcher_core::runtime::Runtime::start(&restarted, |_| {});
    let deadline = Instant::now() + Duration::from_secs(30);
    let row = loop {
        let row = restarted.testing_db().streams(s.ana.id, 1, 0).await.unwrap().remove(0);
        if row.status.is_final() {
            break row;
        }
        assert!(Instant::now() < deadline, "{row:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    scheduler.shutdown(Duration::from_secs(10)).await;
    assert_eq!(row.broadcast_id, id);
    assert_eq!(row.status, StreamState::Ended, "{row:?}");
    let db = restarted.testing_db();
    let started: i64 = sqlx::query_scalar(&db.testing_sql("SELECT CASE WHEN @time(started_at) >= @time(scheduled_at) THEN 1 ELSE 0 END FROM streams WHERE id = $1"))
        .bind(row.id)
        .fetch_one(db.testing_pool())
        .await
        .unwrap();
    assert_eq!(started, 1, "started at or after its time: {row:?}");
    assert!(ingest.recording(&s.accounts[0].1).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_broadcast_claimed_by_several_processes_at_once_starts_exactly_once() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 3, 1).await;
    let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    let id = broadcast::schedule(&s.app, &s.ana, &request(&s, false), &now).await.unwrap();
    // Four handles on the data dir, each with its own connection pool as a process has, each
    // trying twice at the same moment: the database decides.
    let mut handles = Vec::new();
    for _ in 0..4 {
        handles.push(open(s.app.data_dir(), KeyringPreference::File).await);
    }
    let tries: Vec<_> = handles.iter().chain(handles.iter()).map(|app| (app.clone(), id.clone())).map(|(app, id)| tokio::spawn(async move { broadcast::start_scheduled(&app, &id).await })).collect();
    let mut started = Vec::new();
    for attempt in tries {
        match attempt.await.unwrap() {
            Ok(handle) => started.push(handle),
            Err(e) => assert!(matches!(e, BroadcastError::AlreadyStarted { .. }), "{e}"),
        }
    }
    assert_eq!(started.len(), 1, "exactly one claim won");
    let states = tokio::time::timeout(Duration::from_secs(30), started.pop().unwrap().wait()).await.unwrap();
    assert_eq!(states.values().copied().collect::<Vec<_>>(), vec![StreamState::Ended]);
    assert_eq!(ingest.publishes(&s.accounts[0].1), 1, "one publish reached the ingest");
    assert!(matches!(broadcast::start_scheduled(&s.app, &id).await, Err(BroadcastError::AlreadyStarted { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_newest_first_within_one_limit_policy_and_another_profiles_stream_is_not_found() {
    let ingest = Ingest::start();
    let s = setup(&ingest, 2, 1).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        broadcast::schedule(&s.app, &s.ana, &request(&s, false), &in_a_month()).await.unwrap();
        ids.push(broadcast::list(&s.app, &s.ana, Some(1), 0).await.unwrap()[0].id);
    }
    let page = |limit, offset| {
        let (app, ana) = (s.app.clone(), s.ana.clone());
        async move { broadcast::list(&app, &ana, limit, offset).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>() }
    };
    assert_eq!(page(None, 0).await, vec![ids[2], ids[1], ids[0]], "newest first, all of them by default");
    assert_eq!(page(Some(2), 0).await, vec![ids[2], ids[1]]);
    assert_eq!(page(Some(2), 2).await, vec![ids[0]]);
    assert_eq!(page(Some(0), 0).await.len(), 1, "a limit below 1 gives one");
    assert_eq!(broadcast::stream(&s.app, &s.ana, ids[0]).await.unwrap().id, ids[0]);
    let bo = profiles::register(&s.app, Some("Bo")).await.unwrap().profile;
    assert!(matches!(broadcast::stream(&s.app, &bo, ids[0]).await, Err(BroadcastError::NoStream { .. })));
    assert!(matches!(broadcast::logs(&s.app, &bo, ids[0]).await, Err(BroadcastError::NoStream { .. })));
    assert!(broadcast::list(&s.app, &bo, None, 0).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_preparation_of_the_same_video_and_quality_joins_the_first() {
    let ingest = Ingest::start();
    let s = setup(&ingest, 2, 1).await;
    let video = library::get(&s.app, &s.ana, s.video_id).await.unwrap();
    let first = broadcast::prepare::enqueue(&s.app, &s.ana, &video, &QUALITY).await.unwrap();
    assert_eq!(broadcast::prepare::enqueue(&s.app, &s.ana, &video, &QUALITY).await.unwrap(), first, "joined while queued");
    let other = Quality { fps: 25, ..QUALITY };
    assert_ne!(broadcast::prepare::enqueue(&s.app, &s.ana, &video, &other).await.unwrap(), first, "another quality is another job");
    let done = jobs::run_until_done(&s.app, &[first]).await.unwrap();
    assert_eq!(done[0].status, JobStatus::Succeeded);
    assert_ne!(broadcast::prepare::enqueue(&s.app, &s.ana, &video, &QUALITY).await.unwrap(), first, "a finished job is not joined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprepared_video_goes_live_at_once_with_a_real_time_encode() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 6, 1).await;
    let live = StartRequest { live_encode: true, ..request(&s, false) };
    let states = broadcast::start(&s.app, &s.ana, &live).await.unwrap().wait().await;
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");
    let path = ingest.recording(&s.accounts[0].1);
    let info = probe_json(&path);
    let codecs: Vec<&str> = info["streams"].as_array().unwrap().iter().filter_map(|s| s["codec_name"].as_str()).collect();
    assert!(codecs.contains(&"h264") && codecs.contains(&"aac"), "{codecs:?}");
    let packets = video_packets(&path);
    let span = packets.last().unwrap().0 - packets.first().unwrap().0 + 1.0 / 30.0;
    assert!((span - 6.0).abs() <= 0.3, "{span}");
    let keys: Vec<f64> = packets.iter().filter(|p| p.1).map(|p| p.0).collect();
    assert!(keys.windows(2).all(|w| ((w[1] - w[0]) - 2.0).abs() < 0.001), "{keys:?}");
    // The preparation was queued for next time.
    let open = s.app.testing_db().open_jobs().await.unwrap();
    assert!(open.iter().any(|j| j.kind == "prepare"), "{open:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_live_sets_each_channels_title_category_and_tags_and_a_refusal_only_marks_its_destination() {
    use twitcher_testkit::twitch::{FakeTwitch, FakeUser};
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let fake = FakeTwitch::start();
    fake.add_user(FakeUser::new("41245072", "nightowl", "live_41245072_GoLiveKeyOne1111"));
    let mut old_grant = FakeUser::new("77701", "oldgrant", "live_77701_GoLiveKeyTwo2222");
    old_grant.grants = Some(vec!["channel:read:stream_key".into()]);
    fake.add_user(old_grant);
    let dir = tempfile::tempdir().unwrap();
    let app = support::open_with_twitch(&dir.path().join("data"), &fake, "http://127.0.0.1:9/unreachable").await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let file = make_video(dir.path(), "clip", "mp4", &["-t", "4"]);
    let (ids, _) = library::import(&app, &ana, &[file]).await.unwrap();
    let video_id = jobs::run_until_done(&app, &ids).await.unwrap()[0].video_id.unwrap();
    let account_ids = support::connect_accounts(&app, &ana, &fake, &["41245072", "77701"], &ingest.server()).await;

    let request = StartRequest {
        video_id: Some(video_id),
        playlist_id: None,
        account_ids: account_ids.clone(),
        title: "Night rerun".into(),
        category: Some("Art".into()),
        tags: vec!["Chill".into(), "lofi".into()],
        quality: QUALITY,
        looped: false,
        live_encode: false,
    };
    let handle = broadcast::start(&app, &ana, &request).await.unwrap();
    let stream_ids: Vec<i64> = handle.destinations.iter().map(|d| d.0).collect();
    let states = handle.wait().await;
    assert!(states.values().all(|s| *s == StreamState::Ended), "a refused PATCH does not stop the stream: {states:?}");

    let channel = fake.channel("41245072");
    assert_eq!((channel.title.as_str(), channel.game_id.as_str()), ("Night rerun", "509660"));
    assert_eq!(channel.tags, vec!["Chill".to_string(), "lofi".to_string()]);
    assert_eq!(fake.channel("77701").title, "first stream");
    let rows = app.testing_db().streams(ana.id, 10, 0).await.unwrap();
    let row = |id| rows.iter().find(|r| r.id == id).unwrap();
    assert_eq!(row(stream_ids[0]).channel_notice, None);
    assert!(row(stream_ids[1]).channel_notice.as_deref().unwrap().contains("Missing scope: channel:manage:broadcast"));
    for key in ["live_41245072_GoLiveKeyOne1111", "live_77701_GoLiveKeyTwo2222"] {
        assert!(video_packets(&ingest.recording(key)).len() > 90, "both destinations published");
    }
    let events = app.testing_db().stream_events(ana.id, stream_ids[1]).await.unwrap().unwrap();
    assert!(events.iter().any(|(_, level, message)| level == "warn" && message.contains("not set on Twitch")), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_restart_after_crash_an_interrupted_broadcast_goes_live_again() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 3, 2).await;
    assert_eq!(broadcast::after_crash(&s.app).await.unwrap(), broadcast::AfterCrash::Fail, "failing is the default");
    broadcast::set_after_crash(&s.app, &s.ana, broadcast::AfterCrash::Restart).await.unwrap();
    // A broadcast that was on air in a process that is gone: its lease was last renewed a
    // minute ago.
    let id = broadcast::schedule(&s.app, &s.ana, &request(&s, false), &in_a_month()).await.unwrap();
    support::execute(
        &s.app,
        "UPDATE streams SET status = 'live', scheduled_at = NULL, owner_instance = 'a-process-that-died', \
         heartbeat_at = @now-$1 WHERE broadcast_id = $2",
        &[Bind::Real(60.0), Bind::Text(&id)],
    )
    .await;
    // Stream log lines past the logs' 30 days go at the same time; younger ones stay.
    for (days, message) in [(31.0, "ancient"), (29.0, "recent")] {
        support::execute(
            &s.app,
            "INSERT INTO stream_events (stream_id, at, level, message) SELECT id, @now-$1, 'info', $2 FROM streams WHERE broadcast_id = $3",
            &[Bind::Real(days * 86_400.0), Bind::Text(message), Bind::Text(&id)],
        )
        .await;
    }

    let restarted = open(s.app.data_dir(), KeyringPreference::File).await;
    assert_eq!(broadcast::recover(&restarted).await.unwrap(), 2);
    broadcast::prune_logs(&restarted).await.unwrap();
    let rows = restarted.testing_db().streams(s.ana.id, 10, 0).await.unwrap();
    let (old, new): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.broadcast_id == id);
    assert!(old.iter().all(|r| r.status == StreamState::Failed && r.error.as_deref().unwrap().contains("restarted as stream")), "{old:?}");
    let log = restarted.testing_db().stream_events(s.ana.id, old[0].id).await.unwrap().unwrap();
    assert!(log.iter().any(|(_, _, m)| m == "recent") && !log.iter().any(|(_, _, m)| m == "ancient"), "{log:?}");
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|r| r.status == StreamState::Scheduled && r.title == "Test" && r.video_id == Some(s.video_id)), "{new:?}");

    // The restarted process's background work, as the window and `serve` run it.
    let scheduler = twitcher_core::runtime::Runtime::start(&restarted, |_| {});
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let rows = restarted.testing_db().streams(s.ana.id, 10, 0).await.unwrap();
        let replacements: Vec<_> = rows.iter().filter(|r| r.broadcast_id != id).collect();
        if replacements.iter().all(|r| r.status.is_final()) {
            assert!(replacements.iter().all(|r| r.status == StreamState::Ended), "{replacements:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{replacements:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    scheduler.shutdown(Duration::from_secs(10)).await;
    for (_, key) in &s.accounts {
        assert!(video_packets(&ingest.recording(key)).len() > 60, "published again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_past_four_hours_and_forty_minutes_use_extended_timestamps_the_ingest_reads() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    // 0xFFFFFF ms is where RTMP's 24-bit timestamp field runs out (4 h 39 min 37 s): start 2 s
    // before it.
    let engine = EngineOptions { first_timestamp_ms: 0xFF_FFFF - 2000, ..Default::default() };
    let s = setup_engine(ingest.server(), 5, 1, "mp4", engine).await;
    let states = broadcast::start(&s.app, &s.ana, &request(&s, false)).await.unwrap().wait().await;
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");
    // nginx records relative to the first timestamp it received, so the recording starts at 0;
    // a misread extended timestamp would show as a jump (or a dropped connection) at 2 s.
    let packets = video_packets(&ingest.recording(&s.accounts[0].1));
    let first = packets.first().unwrap().0;
    let last = packets.last().unwrap().0;
    assert!((last - first + 1.0 / 30.0 - 5.0).abs() <= 0.2, "all 5 s arrived: {first} .. {last}");
    assert_eq!(s.app.testing_db().streams(s.ana.id, 1, 0).await.unwrap()[0].reconnects, 0, "the ingest never dropped us");
    let gaps: Vec<f64> = packets.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps.iter().all(|g| *g > 0.0 && *g <= 1.5 / 30.0), "strictly increasing, no gap over a frame: {gaps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_whose_key_cannot_be_opened_fails_alone_and_the_others_go_live_now_and_when_scheduled() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 3, 3).await;
    // One byte more on the second account's sealed key: it no longer opens.
    support::tamper_stream_key(&s.app, s.accounts[1].0).await;

    let at = support::db_time_in(&s.app, 2.0).await;
    let scheduled = broadcast::schedule(&s.app, &s.ana, &request(&s, false), &at).await.unwrap();
    for handle in [broadcast::start(&s.app, &s.ana, &request(&s, false)).await.unwrap(), broadcast::start_when_due(&s.app, &scheduled).await.unwrap()] {
        let destinations = handle.destinations.clone();
        let states = handle.wait().await;
        let state_of = |i: usize| states[&destinations.iter().find(|d| d.1 == s.accounts[i].0).unwrap().0];
        assert_eq!((state_of(0), state_of(1), state_of(2)), (StreamState::Ended, StreamState::Failed, StreamState::Ended), "{states:?}");
        let failed = destinations.iter().find(|d| d.1 == s.accounts[1].0).unwrap().0;
        let row = broadcast::stream(&s.app, &s.ana, failed).await.unwrap();
        let error = row.error.unwrap_or_default();
        assert!(error.starts_with("Channel 1: ") && error.contains("integrity"), "{error}");
        for (stream_id, _) in destinations.iter().filter(|d| d.0 != failed) {
            let row = broadcast::stream(&s.app, &s.ana, *stream_id).await.unwrap();
            let log = broadcast::logs(&s.app, &s.ana, *stream_id).await.unwrap();
            assert_eq!(row.reconnects, 0, "{log:?}");
        }
    }
    for i in [0, 2] {
        // Both broadcasts published to it (nginx appends them to one recording).
        assert!(ingest.publishes(&s.accounts[i].1) >= 2, "account {i}");
        let frames = video_packets(&ingest.recording(&s.accounts[i].1)).len();
        assert!(frames >= 90, "a 3 s broadcast recorded for account {i}: {frames} frames");
    }
    assert!(!ingest.recording(&s.accounts[1].1).exists(), "nothing was published with the broken key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_twitch_shows_offline_while_publishing_is_alerted_and_reconnected_once() {
    use twitcher_testkit::twitch::{FakeLive, FakeTwitch, FakeUser};
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let fake = FakeTwitch::start();
    let (lost_key, fine_key) = ("live_41245072_WatchKeyOne1111", "live_55501_WatchKeyTwo22222");
    fake.add_user(FakeUser::new("41245072", "nightowl", lost_key));
    fake.add_user(FakeUser::new("55501", "dayowl", fine_key));
    // Twitch shows one channel live; the other stays offline however long we publish to it (as
    // when a key of another channel, or an ingest that swallows streams, is in use).
    fake.set_live("55501", Some(FakeLive { title: "Rerun".into(), game_name: "Art".into(), viewer_count: 3 }));
    let dir = tempfile::tempdir().unwrap();
    // In production: after 2 min of publishing, asked every minute. Here: 2 s, every second.
    let engine = EngineOptions { offline_after: Duration::from_secs(2), offline_check_every: Duration::from_secs(1), ..Default::default() };
    let app = support::open_with_twitch_engine(&dir.path().join("data"), &fake, "http://127.0.0.1:9/unreachable", engine).await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let file = make_video(dir.path(), "clip", "mp4", &["-t", "12"]);
    let (ids, _) = library::import(&app, &ana, &[file]).await.unwrap();
    let video_id = jobs::run_until_done(&app, &ids).await.unwrap()[0].video_id.unwrap();
    let account_ids = support::connect_accounts(&app, &ana, &fake, &["41245072", "55501"], &ingest.server()).await;
    let (hook, posted) = support::webhook_receiver().await;
    twitcher_core::alerts::set_webhook_url(&app, &ana, &hook).await.unwrap();
    let alerts_done = tokio_util::sync::CancellationToken::new();
    let alerts = tokio::spawn(twitcher_core::alerts::run(app.clone(), alerts_done.clone(), |_| {}));

    let request = StartRequest { video_id: Some(video_id), playlist_id: None, account_ids: account_ids.clone(), title: "Watched".into(), category: None, tags: vec![], quality: QUALITY, looped: false, live_encode: false };
    let handle = broadcast::start(&app, &ana, &request).await.unwrap();
    let streams = handle.destinations.clone();
    let states = handle.wait().await;
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");
    alerts_done.cancel();
    alerts.await.unwrap();

    // Reconnected once (two publishes), however long it stayed offline after; the other untouched.
    assert_eq!(ingest.publishes(lost_key), 2, "one reconnect of the channel Twitch showed offline");
    assert_eq!(ingest.publishes(fine_key), 1, "the live channel was left alone");
    let offline: Vec<serde_json::Value> = posted.lock().unwrap().iter().filter(|a| a["event"] == "channel_offline_while_publishing").cloned().collect();
    assert_eq!(offline.len(), 1, "one alert: {offline:?}");
    let lost_stream = streams.iter().find(|d| d.1 == account_ids[0]).unwrap().0;
    assert_eq!((offline[0]["stream_id"].as_i64(), offline[0]["title"].as_str()), (Some(lost_stream), Some("Watched")));
    let log = broadcast::logs(&app, &ana, lost_stream).await.unwrap();
    assert!(log.iter().any(|(_, level, m)| level == "warn" && m.starts_with("Twitch shows the channel offline")), "{log:?}");
    let fine_log = broadcast::logs(&app, &ana, streams.iter().find(|d| d.1 == account_ids[1]).unwrap().0).await.unwrap();
    assert!(!fine_log.iter().any(|(_, _, m)| m.contains("offline")), "{fine_log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_profile_runs_one_broadcast_at_once_even_when_starts_race_and_an_admin_is_not_limited() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 30, 2).await; // Ana: the first profile, ADMIN.
    let bo = profiles::register(&s.app, Some("Bo")).await.unwrap().profile; // a USER on FREE
    assert_eq!(bo.limits.max_broadcasts, Some(1));
    let dir = tempfile::tempdir().unwrap();
    let file = make_video(dir.path(), "bo", "mp4", &["-t", "30", "-vf", "hue=h=60"]);
    let (ids, _) = library::import(&s.app, &bo, &[file]).await.unwrap();
    let video_id = jobs::run_until_done(&s.app, &ids).await.unwrap()[0].video_id.unwrap();
    let mut bo_accounts = Vec::new();
    for i in 0..2 {
        let input = AccountInput { display_name: format!("Bo {i}"), channel_id: Some(format!("{}", 2000 + i)), login: None, ingest_server: Some(ingest.server()) };
        bo_accounts.push(accounts::add(&s.app, &bo, &input, &format!("live_{}_{}", 2000 + i, uuid::Uuid::new_v4().simple())).await.unwrap().id);
    }
    let to = |account: i64| StartRequest { video_id: Some(video_id), playlist_id: None, account_ids: vec![account], title: "Bo".into(), category: None, tags: vec![], quality: QUALITY, looped: false, live_encode: false };
    let rows = |app: Twitcher, who: Profile| async move { broadcast::list(&app, &who, None, 0).await.unwrap().len() };

    // The same channel twice in one request is refused, and nothing is stored.
    let twice = StartRequest { account_ids: vec![bo_accounts[0], bo_accounts[0]], ..to(bo_accounts[0]) };
    let refused = broadcast::start(&s.app, &bo, &twice).await.err().unwrap();
    assert_eq!(twitcher_core::Error::from(refused).code().as_str(), "invalid_input");
    assert_eq!(rows(s.app.clone(), bo.clone()).await, 0);

    // Two starts at the same moment: the plan's one place goes to exactly one of them.
    let (one, other) = (to(bo_accounts[0]), to(bo_accounts[1]));
    let (a, b) = tokio::join!(broadcast::start(&s.app, &bo, &one), broadcast::start(&s.app, &bo, &other));
    let (running, refused) = match (a, b) {
        (Ok(h), Err(e)) | (Err(e), Ok(h)) => (h, e),
        (a, b) => panic!("exactly one start may pass: {:?} / {:?}", a.map(|h| h.broadcast_id), b.map(|h| h.broadcast_id)),
    };
    let refused = twitcher_core::Error::from(refused);
    assert_eq!(refused.code().as_str(), "plan_limit");
    assert!(refused.to_string().contains("FREE plan runs 1 broadcast"), "{refused}");
    assert_eq!(rows(s.app.clone(), bo.clone()).await, 1, "the refused start left no row");

    // The ADMIN runs two at once, while Bo's runs.
    let first = broadcast::start(&s.app, &s.ana, &StartRequest { account_ids: vec![s.accounts[0].0], ..request(&s, false) }).await.unwrap();
    let second = broadcast::start(&s.app, &s.ana, &StartRequest { account_ids: vec![s.accounts[1].0], ..request(&s, false) }).await.unwrap();
    for h in [&first, &second, &running] {
        h.stop_all();
    }
    let _ = (first.wait().await, second.wait().await, running.wait().await);
    // Once Bo's has ended, Bo may start again.
    let again = broadcast::start(&s.app, &bo, &to(bo_accounts[1])).await.unwrap();
    again.stop_all();
    again.wait().await;

    // Scheduled broadcasts count when their time comes: two of Bo's due at the same instant,
    // started by two processes at once, get the plan's one place between them.
    let at = support::db_time_in(&s.app, 2.0).await;
    let scheduled = [
        broadcast::schedule(&s.app, &bo, &to(bo_accounts[0]), &at).await.unwrap(),
        broadcast::schedule(&s.app, &bo, &to(bo_accounts[1]), &at).await.unwrap(),
    ];
    let other = open(s.app.data_dir(), KeyringPreference::File).await;
    let (a, b) = tokio::join!(broadcast::start_when_due(&s.app, &scheduled[0]), broadcast::start_when_due(&other, &scheduled[1]));
    let (running, refused) = match (a, b) {
        (Ok(h), Err(e)) | (Err(e), Ok(h)) => (h, e),
        (a, b) => panic!("exactly one scheduled start may pass: {:?} / {:?}", a.map(|h| h.broadcast_id), b.map(|h| h.broadcast_id)),
    };
    assert_eq!(twitcher_core::Error::from(refused).code().as_str(), "plan_limit");
    let failed = broadcast::list(&s.app, &bo, None, 0).await.unwrap().into_iter().find(|r| r.broadcast_id != running.broadcast_id && scheduled.contains(&r.broadcast_id)).unwrap();
    assert_eq!(failed.status, StreamState::Failed, "{failed:?}");
    assert!(failed.error.as_deref().unwrap_or_default().contains("FREE plan runs 1 broadcast(s) at once"), "{failed:?}");
    running.stop_all();
    running.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_limits_live_encodes_at_once_separately_from_broadcasts_and_only_an_admin_sets_it() {
    let _one_at_a_time = REAL_TIME.lock().await;
    let ingest = Ingest::start();
    let s = setup(&ingest, 8, 3).await; // Ana: the first profile, ADMIN.
    let new_bo = profiles::register(&s.app, Some("Bo")).await.unwrap();
    let bo = new_bo.profile.clone();
    let pro = |live_encodes| profiles::PlanLimits { max_accounts: Some(10), max_storage_bytes: None, max_broadcasts: Some(5), max_live_encodes: live_encodes, max_playlists: None, max_schedules: None, max_scheduled: None };
    let refused = profiles::set_plan_limits(&s.app, &bo, profiles::Plan::Pro, &pro(Some(1))).await.unwrap_err();
    assert_eq!(twitcher_core::Error::from(refused).code().as_str(), "not_admin");
    assert_eq!(profiles::set_plan_limits(&s.app, &s.ana, profiles::Plan::Pro, &pro(Some(1))).await.unwrap(), pro(Some(1)));
    profiles::set_plan(&s.app, &s.ana, &new_bo.uuid.to_string(), profiles::Plan::Pro).await.unwrap();
    let bo = profiles::by_id(&s.app, bo.id).await.unwrap().unwrap();
    assert_eq!((bo.limits.max_broadcasts, bo.limits.max_live_encodes), (Some(5), Some(1)));

    // Bo's own video, not prepared at QUALITY: every start below would encode it live.
    let dir = tempfile::tempdir().unwrap();
    let file = make_video(dir.path(), "bo", "mp4", &["-t", "8", "-vf", "hue=h=90"]);
    let (ids, _) = library::import(&s.app, &bo, &[file]).await.unwrap();
    let video_id = jobs::run_until_done(&s.app, &ids).await.unwrap()[0].video_id.unwrap();
    let mut bo_accounts = Vec::new();
    for i in 0..3 {
        let input = AccountInput { display_name: format!("Bo {i}"), channel_id: Some(format!("{}", 3000 + i)), login: None, ingest_server: Some(ingest.server()) };
        bo_accounts.push(accounts::add(&s.app, &bo, &input, &format!("live_{}_{}", 3000 + i, uuid::Uuid::new_v4().simple())).await.unwrap().id);
    }
    let live = |account: i64| StartRequest {
        video_id: Some(video_id), playlist_id: None, account_ids: vec![account], title: "Bo".into(), category: None, tags: vec![], quality: QUALITY, looped: true, live_encode: true,
    };

    // Two live-encoded starts at the same moment, from two processes: the plan's one encode
    // goes to exactly one of them; the other fails with the plan's reason, its row too.
    let other = open(s.app.data_dir(), KeyringPreference::File).await;
    let (first, second) = (live(bo_accounts[0]), live(bo_accounts[1]));
    let (a, b) = tokio::join!(broadcast::start(&s.app, &bo, &first), broadcast::start(&other, &bo, &second));
    let (running, refused) = match (a, b) {
        (Ok(h), Err(e)) | (Err(e), Ok(h)) => (h, e),
        (a, b) => panic!("exactly one live encode may start: {:?} / {:?}", a.map(|h| h.broadcast_id), b.map(|h| h.broadcast_id)),
    };
    let refused = twitcher_core::Error::from(refused);
    assert_eq!(refused.code().as_str(), "plan_limit");
    assert!(refused.to_string().contains("PRO plan encodes 1 video(s) live at once"), "{refused}");
    let rows = broadcast::list(&s.app, &bo, None, 0).await.unwrap();
    let failed = rows.iter().find(|r| r.broadcast_id != running.broadcast_id).unwrap();
    assert_eq!(failed.status, StreamState::Failed, "{failed:?}");

    // A broadcast that waits for its preparation instead is only a broadcast: it starts
    // (Bo's plan runs 5) while the live encode runs.
    let prepared = broadcast::start(&s.app, &bo, &StartRequest { live_encode: false, looped: false, ..live(bo_accounts[2]) }).await.unwrap();
    prepared.stop_all();
    prepared.wait().await;
    running.stop_all();
    running.wait().await;
    // Once the encode has ended, another may start.
    let again = broadcast::start(&s.app, &bo, &StartRequest { quality: Quality { video_bitrate_k: 900, ..QUALITY }, ..live(bo_accounts[0]) }).await.unwrap();
    again.stop_all();
    again.wait().await;
}
