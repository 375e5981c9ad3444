//! Playlists: what a profile can do with them, and a playlist broadcast against a real RTMP ingest
//! (nginx-rtmp recording each stream key) with items ffmpeg makes at test time in different
//! sizes and frame rates.

mod support;

use std::time::Duration;

use support::{make_video, Ingest};
use twitcher_core::accounts::{self, AccountInput};
use twitcher_core::broadcast::{self, EngineOptions, Quality, StartRequest, StreamState};
use twitcher_core::jobs::{self, JobStatus};
use twitcher_core::playlists::{self, ItemMeta, PlaylistError, PlaylistOptions};
use twitcher_core::profiles::{self, Profile};
use twitcher_core::vault::KeyringPreference;
use twitcher_core::{library, Error, Twitcher};

const QUALITY: Quality = Quality { fps: 30, video_bitrate_k: 1000, audio_bitrate_k: 128, width: 640, height: 360 };

struct Setup {
    dir: tempfile::TempDir,
    app: Twitcher,
    ana: Profile,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let app = support::open_with_engine(&dir.path().join("data"), KeyringPreference::File, "http://127.0.0.1:9/unreachable", EngineOptions::default()).await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    Setup { dir, app, ana }
}

/// Imports a clip made with `extra` ffmpeg output options; returns its video id.
async fn clip(s: &Setup, actor: &Profile, name: &str, extra: &[&str]) -> i64 {
    let file = make_video(s.dir.path(), name, "mp4", extra);
    let (ids, _) = library::import(&s.app, actor, &[file]).await.unwrap();
    let done = jobs::run_until_done(&s.app, &ids).await.unwrap();
    assert_eq!(done[0].status, JobStatus::Succeeded, "{:?}", done[0].error);
    done[0].video_id.unwrap()
}

/// A start of playlist `id` to `accounts` at [`QUALITY`].
fn playing(id: i64, accounts: Vec<i64>) -> StartRequest {
    StartRequest { video_id: None, playlist_id: Some(id), account_ids: accounts, title: String::new(), category: None, tags: vec![], quality: QUALITY, looped: false, live_encode: false }
}

fn code(e: PlaylistError) -> String {
    Error::from(e).code().as_str().to_string()
}

#[tokio::test]
async fn a_playlist_keeps_its_order_through_adds_moves_and_removes() {
    let s = setup().await;
    let a = clip(&s, &s.ana, "a", &["-t", "1"]).await;
    let b = clip(&s, &s.ana, "b", &["-t", "1", "-vf", "hue=h=90"]).await;
    let c = clip(&s, &s.ana, "c", &["-t", "1", "-vf", "hue=h=180"]).await;
    let p = playlists::create(&s.app, &s.ana, "  Night shift  ").await.unwrap();
    assert_eq!((p.name.as_str(), p.items.len(), p.duration_sec), ("Night shift", 0, Some(0.0)));

    let meta = ItemMeta { title: Some("Opening".into()), category: Some("Just Chatting".into()), tags: Some(vec!["English".into()]) };
    playlists::add(&s.app, &s.ana, p.id, a, None, &meta).await.unwrap();
    playlists::add(&s.app, &s.ana, p.id, b, None, &ItemMeta::default()).await.unwrap();
    // Inserted first; the others move down.
    let p = playlists::add(&s.app, &s.ana, p.id, c, Some(1), &ItemMeta::default()).await.unwrap();
    assert_eq!(p.items.iter().map(|i| i.video_id).collect::<Vec<_>>(), [c, a, b]);
    assert_eq!(p.items.iter().map(|i| i.position).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(p.items[1].meta, meta);
    let total = p.duration_sec.unwrap();
    assert!((total - 3.0).abs() < 0.2, "three 1 s clips: {total}");

    // Moving the last item first, and the first past the end (last).
    let last = p.items[2].id;
    let p = playlists::move_item(&s.app, &s.ana, p.id, last, 1).await.unwrap();
    assert_eq!(p.items.iter().map(|i| i.video_id).collect::<Vec<_>>(), [b, c, a]);
    let p = playlists::move_item(&s.app, &s.ana, p.id, p.items[0].id, 99).await.unwrap();
    assert_eq!(p.items.iter().map(|i| i.video_id).collect::<Vec<_>>(), [c, a, b]);
    let p = playlists::remove_item(&s.app, &s.ana, p.id, p.items[1].id).await.unwrap();
    assert_eq!(p.items.iter().map(|i| i.video_id).collect::<Vec<_>>(), [c, b]);
    assert_eq!(p.items.iter().map(|i| i.position).collect::<Vec<_>>(), [1, 2]);

    // A video removed from the library leaves its playlists.
    library::remove(&s.app, &s.ana, c).await.unwrap();
    assert_eq!(playlists::get(&s.app, &s.ana, p.id).await.unwrap().items.iter().map(|i| i.video_id).collect::<Vec<_>>(), [b]);
}

/// Found by the 200-video window test: adding items read the count, then wrote, in a deferred
/// transaction, and SQLite refuses such a read-turned-write at once ("database is locked") when
/// another writer went first. Two processes' pools adding at the same time, while a third keeps
/// writing elsewhere, now each get their turn: every item lands, every position once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_added_from_two_processes_at_once_all_land_each_in_its_own_position() {
    let s = setup().await;
    let a = clip(&s, &s.ana, "a", &["-t", "1"]).await;
    let p = playlists::create(&s.app, &s.ana, "Both at once").await.unwrap();
    let other = support::open_from_env(&s.dir.path().join("data")).await;
    const EACH: usize = 40;
    let adding = |app: Twitcher, ana: Profile| async move {
        for _ in 0..EACH {
            playlists::add(&app, &ana, p.id, a, None, &ItemMeta::default()).await.unwrap();
        }
    };
    let writing = |app: Twitcher, ana: Profile| async move {
        for i in 0..EACH {
            let options = PlaylistOptions { looped: i % 2 == 0, shuffle: false, insert_every: None, insert_video_id: None, slate_video_id: None };
            playlists::set_options(&app, &ana, p.id, &options).await.unwrap();
        }
    };
    tokio::join!(adding(s.app.clone(), s.ana.clone()), adding(other.clone(), s.ana.clone()), writing(other.clone(), s.ana.clone()));
    let p = playlists::get(&s.app, &s.ana, p.id).await.unwrap();
    assert_eq!(p.items.iter().map(|i| i.position).collect::<Vec<_>>(), (1..=2 * EACH as u32).collect::<Vec<_>>());
}

#[tokio::test]
async fn bad_input_is_refused_with_its_code_and_changes_nothing() {
    let s = setup().await;
    let bo = profiles::register(&s.app, Some("Bo")).await.unwrap().profile;
    let a = clip(&s, &s.ana, "a", &["-t", "1"]).await;
    let theirs = clip(&s, &bo, "theirs", &["-t", "1", "-vf", "hue=h=45"]).await;
    let p = playlists::create(&s.app, &s.ana, "Main").await.unwrap();
    let p = playlists::add(&s.app, &s.ana, p.id, a, None, &ItemMeta::default()).await.unwrap();

    assert_eq!(code(playlists::create(&s.app, &s.ana, "Main").await.unwrap_err()), "duplicate_playlist");
    assert_eq!(code(playlists::create(&s.app, &s.ana, "   ").await.unwrap_err()), "invalid_name");
    assert_eq!(code(playlists::add(&s.app, &s.ana, p.id, theirs, None, &ItemMeta::default()).await.unwrap_err()), "video_not_found");
    let too_many_tags = ItemMeta { tags: Some((0..11).map(|i| format!("t{i}")).collect()), ..Default::default() };
    assert_eq!(code(playlists::add(&s.app, &s.ana, p.id, a, None, &too_many_tags).await.unwrap_err()), "invalid_input");
    assert_eq!(code(playlists::move_item(&s.app, &s.ana, p.id, 999_999, 1).await.unwrap_err()), "not_found");
    let half_insert = PlaylistOptions { insert_every: Some(3), ..Default::default() };
    assert_eq!(code(playlists::set_options(&s.app, &s.ana, p.id, &half_insert).await.unwrap_err()), "invalid_input");
    // Another profile sees none of it: its ids answer as unknown.
    assert_eq!(code(playlists::get(&s.app, &bo, p.id).await.unwrap_err()), "playlist_not_found");
    assert_eq!(code(playlists::delete(&s.app, &bo, p.id).await.unwrap_err()), "playlist_not_found");
    assert!(playlists::list(&s.app, &bo).await.unwrap().is_empty());

    assert_eq!(playlists::get(&s.app, &s.ana, p.id).await.unwrap(), p, "nothing changed");
    // An empty playlist cannot go live, and says why.
    let empty = playlists::create(&s.app, &s.ana, "Empty").await.unwrap();
    let request = playing(empty.id, vec![1]);
    let refused = broadcast::start(&s.app, &s.ana, &request).await.err().unwrap();
    assert_eq!(Error::from(refused).code().as_str(), "invalid_input");
    let both = StartRequest { video_id: Some(a), ..request };
    assert_eq!(Error::from(broadcast::start(&s.app, &s.ana, &both).await.err().unwrap()).code().as_str(), "invalid_input");
}

/// (dts seconds, duration seconds) of each packet of one track of a recording, from ffprobe.
fn packets(path: &std::path::Path, track: &str) -> Vec<(f64, f64)> {
    let out = twitcher_testkit::output_within(
        std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", track, "-show_entries", "packet=dts_time,duration_time", "-of", "csv=p=0"])
            .arg(path),
        Duration::from_secs(60),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(',');
            Some((parts.next()?.parse().ok()?, parts.next().and_then(|d| d.parse().ok()).unwrap_or(0.0)))
        })
        .collect()
}

/// The integrated loudness (LUFS) of `length` seconds of a recording from `start`, by FFmpeg's
/// EBU R128 meter.
fn integrated_loudness(path: &std::path::Path, start: f64, length: f64) -> f64 {
    let out = twitcher_testkit::output_within(
        std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-nostats", "-ss", &format!("{start:.3}"), "-t", &format!("{length:.3}"), "-i"])
            .arg(path)
            .args(["-vn", "-af", "ebur128", "-f", "null", "-"]),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The summary's "I: -16.0 LUFS" line.
    let summary = &stderr[stderr.rfind("Summary:").expect("an ebur128 summary")..];
    summary.lines().find_map(|l| l.trim().strip_prefix("I:")).and_then(|v| v.trim().trim_end_matches("LUFS").trim().parse().ok()).expect("integrated loudness")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlist_of_different_sources_played_twice_is_one_stream_without_gaps() {
    let ingest = Ingest::start();
    let s = setup().await;
    // Different sizes, frame rates and loudness; every one prepared to 640x360 at 30 fps.
    let items = [
        clip(&s, &s.ana, "wide", &["-t", "3"]).await,
        clip(&s, &s.ana, "small", &["-t", "3", "-vf", "scale=320:240", "-r", "30", "-af", "volume=0.2"]).await,
        clip(&s, &s.ana, "fast", &["-t", "3", "-vf", "scale=1280:720,hue=h=120", "-r", "50", "-af", "volume=2"]).await,
    ];
    // Two rounds, as the items' titles say; it ends by itself after the sixth.
    let p = playlists::create(&s.app, &s.ana, "Channel").await.unwrap();
    for (i, video) in items.iter().chain(items.iter()).enumerate() {
        let meta = ItemMeta { title: Some(format!("Item {}", i % 3 + 1)), ..Default::default() };
        playlists::add(&s.app, &s.ana, p.id, *video, None, &meta).await.unwrap();
    }
    let key = format!("live_1_{}", uuid::Uuid::new_v4().simple());
    let input = AccountInput { display_name: "Main".into(), channel_id: Some("1001".into()), login: None, ingest_server: Some(ingest.server()) };
    let account = accounts::add(&s.app, &s.ana, &input, &key).await.unwrap();

    let mut events = s.app.events.subscribe();
    let request = playing(p.id, vec![account.id]);
    let handle = broadcast::start(&s.app, &s.ana, &request).await.unwrap();
    let stream_id = handle.destinations[0].0;
    // While a broadcast plays it, it cannot be deleted.
    assert_eq!(code(playlists::delete(&s.app, &s.ana, p.id).await.unwrap_err()), "playlist_in_use");
    let watch = tokio::spawn(async move {
        let mut seen: Vec<(String, Option<String>)> = Vec::new();
        while let Ok(event) = events.recv().await {
            if let twitcher_core::events::Event::Stream(status) = event {
                if let Some(now) = status.now_playing {
                    let pair = (now, status.up_next);
                    if seen.last() != Some(&pair) {
                        seen.push(pair);
                    }
                }
                if status.state.is_final() {
                    break;
                }
            }
        }
        seen
    });
    let states = tokio::time::timeout(Duration::from_secs(90), handle.wait()).await.expect("six 3 s items end within 90 s");
    assert_eq!(states[&stream_id], StreamState::Ended);
    let seen = tokio::time::timeout(Duration::from_secs(5), watch).await.unwrap().unwrap();
    let expected: Vec<(String, Option<String>)> = [(1, Some(2)), (2, Some(3)), (3, Some(1)), (1, Some(2)), (2, Some(3)), (3, None)]
        .iter()
        .map(|(now, next)| (format!("Item {now}"), next.map(|n| format!("Item {n}"))))
        .collect();
    assert_eq!(seen, expected, "now playing / up next, in order");

    let recording = ingest.recording(&key);
    let video = packets(&recording, "v:0");
    let span = video.last().unwrap().0 - video.first().unwrap().0;
    assert!((span + 1.0 / 30.0 - 18.0).abs() < 0.1, "two rounds of 9 s: {span:.2} s");
    let frame = 1.0 / 30.0;
    for w in video.windows(2) {
        let step = w[1].0 - w[0].0;
        assert!(step > 0.0, "video DTS must strictly increase: {:?} then {:?}", w[0], w[1]);
        assert!(step <= frame + 0.0015, "a video gap of {step:.3} s at {:.3} s", w[0].0);
    }
    let audio = packets(&recording, "a:0");
    let aac_frame = 1024.0 / 48_000.0;
    for w in audio.windows(2) {
        let step = w[1].0 - w[0].0;
        assert!(step > 0.0, "audio DTS must strictly increase: {:?} then {:?}", w[0], w[1]);
        // A join may drop the item's last, partial frame (see source::AudioCut): a gap shorter
        // than one frame.
        assert!(step - w[0].1 <= aac_frame + 0.0015, "an audio gap of {:.1} ms at {:.3} s", (step - w[0].1) * 1000.0, w[0].0);
    }
    // Five joins moved neither track against the other: audio starts and ends where it did
    // against the video within a frame (audio cut or doubled at a join would add up here).
    let (v_start, v_end) = (video[0].0, video.last().unwrap().0 + frame);
    let (a_start, a_end) = (audio[0].0, audio.last().map(|p| p.0 + p.1).unwrap());
    let drift = (a_end - v_end) - (a_start - v_start);
    assert!(drift.abs() < frame, "audio moved {:.1} ms against the video over the joins", drift * 1000.0);
    // Each item at the loudness target (-16 LUFS by default), however loud its source was.
    for k in 0..6 {
        let lufs = integrated_loudness(&recording, v_start + k as f64 * 3.0 + 0.3, 2.4);
        assert!((lufs + 16.0).abs() <= 1.0, "item {} plays at {lufs:.2} LUFS", k + 1);
    }
    let log = broadcast::logs(&s.app, &s.ana, stream_id).await.unwrap();
    assert!(log.iter().any(|(_, _, m)| m == "now playing: Item 3"), "{log:?}");
    let row = broadcast::stream(&s.app, &s.ana, stream_id).await.unwrap();
    assert_eq!((row.playlist_id, row.playlist_name.as_deref(), row.title.as_str()), (Some(p.id), Some("Channel"), "Channel"));
    // Once it has ended, the playlist can be deleted.
    playlists::delete(&s.app, &s.ana, p.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_item_sets_its_title_and_tags_and_a_marker_and_a_refusal_marks_only_its_destination() {
    use twitcher_testkit::twitch::{FakeTwitch, FakeUser};
    let ingest = Ingest::start();
    let fake = FakeTwitch::start();
    fake.add_user(FakeUser::new("41245072", "nightowl", "live_41245072_ItemKeyOne11111"));
    let mut old_grant = FakeUser::new("77701", "oldgrant", "live_77701_ItemKeyTwo222222");
    old_grant.grants = Some(vec!["channel:read:stream_key".into()]);
    fake.add_user(old_grant);
    let dir = tempfile::tempdir().unwrap();
    let app = support::open_with_twitch(&dir.path().join("data"), &fake, "http://127.0.0.1:9/unreachable").await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let s = Setup { dir, app, ana };
    let opening = clip(&s, &s.ana, "opening", &["-t", "2"]).await;
    let main = clip(&s, &s.ana, "main", &["-t", "2", "-vf", "hue=h=90"]).await;
    let account_ids = support::connect_accounts(&s.app, &s.ana, &fake, &["41245072", "77701"], &ingest.server()).await;
    let p = playlists::create(&s.app, &s.ana, "Show").await.unwrap();
    playlists::add(&s.app, &s.ana, p.id, opening, None, &ItemMeta { title: Some("Opening act".into()), ..Default::default() }).await.unwrap();
    playlists::add(&s.app, &s.ana, p.id, main, None, &ItemMeta { title: Some("Main event".into()), tags: Some(vec!["Finale".into()]), ..Default::default() }).await.unwrap();

    let request = StartRequest { title: "Saturday show".into(), category: Some("Art".into()), tags: vec!["Chill".into()], ..playing(p.id, account_ids.clone()) };
    let handle = broadcast::start(&s.app, &s.ana, &request).await.unwrap();
    let streams = handle.destinations.clone();
    let states = tokio::time::timeout(Duration::from_secs(60), handle.wait()).await.unwrap();
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");
    // The announcements run beside the stream: give the last one a moment.
    twitcher_testkit::wait_until(Duration::from_secs(10), "the marker", || !fake.markers().is_empty());

    // The second item's title and tags, over the broadcast's; its category kept.
    let channel = fake.channel("41245072");
    assert_eq!((channel.title.as_str(), channel.game_id.as_str(), channel.tags.clone()), ("Main event", "509660", vec!["Finale".to_string()]));
    // One marker, at the join (none at the start of the broadcast), and only where allowed.
    assert_eq!(fake.markers(), vec![("41245072".to_string(), "Main event".to_string())]);
    let log_of = |account: i64| {
        let stream_id = streams.iter().find(|d| d.1 == account).unwrap().0;
        let app = s.app.clone();
        let ana = s.ana.clone();
        async move { broadcast::logs(&app, &ana, stream_id).await.unwrap() }
    };
    let granted = log_of(account_ids[0]).await;
    assert!(granted.iter().any(|(_, _, m)| m == "stream marker “Main event” set"), "{granted:?}");
    assert!(!granted.iter().any(|(_, level, _)| level == "warn" || level == "error"), "{granted:?}");
    let refused = log_of(account_ids[1]).await;
    assert!(
        refused.iter().any(|(_, level, m)| level == "warn" && m.starts_with("at “Main event”:") && m.contains("Missing scope: channel:manage:broadcast")),
        "{refused:?}"
    );
    assert_eq!(fake.channel("77701").title, "first stream", "nothing was changed where the grant does not allow it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planned_reconnect_near_twitchs_48_hour_limit_happens_between_two_items() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    // In production: 47 h 50 min, and a join in the last hour takes it. Here: 8 s, and the last 4 s.
    let engine = EngineOptions { planned_reconnect: Duration::from_secs(8), join_window: Duration::from_secs(4), ..Default::default() };
    let app = support::open_with_engine(&dir.path().join("data"), KeyringPreference::File, "http://127.0.0.1:9/unreachable", engine).await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let s = Setup { dir, app, ana };
    let p = playlists::create(&s.app, &s.ana, "Marathon").await.unwrap();
    for (i, hue) in ["0", "90", "180"].iter().enumerate() {
        let video = clip(&s, &s.ana, &format!("part{i}"), &["-t", "3", "-vf", &format!("hue=h={hue}")]).await;
        playlists::add(&s.app, &s.ana, p.id, video, None, &ItemMeta { title: Some(format!("Part {}", i + 1)), ..Default::default() }).await.unwrap();
    }
    let key = format!("live_1_{}", uuid::Uuid::new_v4().simple());
    let input = AccountInput { display_name: "Main".into(), channel_id: Some("1001".into()), login: None, ingest_server: Some(ingest.server()) };
    let account = accounts::add(&s.app, &s.ana, &input, &key).await.unwrap();
    let handle = broadcast::start(&s.app, &s.ana, &playing(p.id, vec![account.id])).await.unwrap();
    let stream_id = handle.destinations[0].0;
    // Every process reads "now playing" off the row (`stream list`), not only this one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let row = broadcast::stream(&s.app, &s.ana, stream_id).await.unwrap();
        if (row.now_playing.as_deref(), row.up_next.as_deref()) == (Some("Part 2"), Some("Part 3")) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "part 2 never showed on the row: {row:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let states = tokio::time::timeout(Duration::from_secs(60), handle.wait()).await.unwrap();
    assert_eq!(states[&stream_id], StreamState::Ended);

    let log = broadcast::logs(&s.app, &s.ana, stream_id).await.unwrap();
    let at = |m: &str| log.iter().find(|(_, _, text)| text.contains(m)).map(|(at, _, _)| time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap());
    let planned: Vec<_> = log.iter().filter(|(_, _, m)| m.contains("planned reconnect")).collect();
    assert_eq!(planned.len(), 1, "one planned reconnect: {log:?}");
    assert!(planned[0].2.ends_with("48-hour limit, between two items"), "{log:?}");
    // At the second join (6 s in: the first, at 3 s, was not yet in the window), not at 8 s.
    let after = (at("planned reconnect").unwrap() - at("now playing: Part 1").unwrap()).as_seconds_f64();
    assert!((5.0..7.5).contains(&after), "reconnected {after:.2} s in: {log:?}");
    assert_eq!(ingest.publishes(&key), 2);
    // Nothing lost across it: the recording holds all three items.
    let video = packets(&ingest.recording(&key), "v:0");
    let span = video.last().unwrap().0 - video.first().unwrap().0 + 1.0 / 30.0;
    assert!((span - 9.0).abs() < 0.2, "three 3 s items: {span:.2} s");
    let row = broadcast::stream(&s.app, &s.ana, stream_id).await.unwrap();
    assert_eq!((row.now_playing, row.up_next, row.reconnects), (None, None, 1), "an ended broadcast plays nothing");
}

/// The average luma (0–255) of the frame at `at` seconds of a recording, by ffmpeg's signalstats.
fn mean_luma(path: &std::path::Path, at: f64) -> f64 {
    let out = twitcher_testkit::output_within(
        std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-ss", &format!("{at:.3}"), "-i"])
            .arg(path)
            .args(["-frames:v", "1", "-vf", "signalstats,metadata=print:file=-", "-f", "null", "-"]),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("lavfi.signalstats.YAVG=")).and_then(|v| v.trim().parse().ok()).expect("a luma reading")
}

/// A loopback HTTP server that answers 204 and keeps each request's body: the alert webhook.
async fn webhook() -> (String, std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            let body_at = loop {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                request.extend_from_slice(&buf[..n]);
                if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(body_at) = body_at else { continue };
            let head = String::from_utf8_lossy(&request[..body_at]).to_ascii_lowercase();
            let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            while request.len() < body_at + length {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            if let Ok(body) = serde_json::from_slice(&request[body_at..]) {
                seen.lock().unwrap().push(body);
            }
            let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
        }
    });
    (url, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_whose_file_is_damaged_is_covered_by_the_slate_and_the_next_item_follows() {
    let ingest = Ingest::start();
    let s = setup().await;
    let items = [
        clip(&s, &s.ana, "one", &["-t", "2"]).await,
        clip(&s, &s.ana, "two", &["-t", "2", "-vf", "hue=h=90"]).await,
        clip(&s, &s.ana, "three", &["-t", "2", "-vf", "hue=h=180"]).await,
    ];
    let p = playlists::create(&s.app, &s.ana, "Night").await.unwrap();
    for (i, video) in items.iter().enumerate() {
        playlists::add(&s.app, &s.ana, p.id, *video, None, &ItemMeta { title: Some(format!("Item {}", i + 1)), ..Default::default() }).await.unwrap();
    }
    let key = format!("live_1_{}", uuid::Uuid::new_v4().simple());
    let input = AccountInput { display_name: "Main".into(), channel_id: Some("1001".into()), login: None, ingest_server: Some(ingest.server()) };
    let account = accounts::add(&s.app, &s.ana, &input, &key).await.unwrap();
    let (url, posted) = webhook().await;
    twitcher_core::alerts::set_webhook_url(&s.app, &s.ana, &url).await.unwrap();
    let alerts_done = tokio_util::sync::CancellationToken::new();
    let alerts = tokio::spawn(twitcher_core::alerts::run(s.app.clone(), alerts_done.clone(), |_| {}));

    // Everything prepared beforehand, as after a first broadcast.
    for video in &items {
        let video = library::get(&s.app, &s.ana, *video).await.unwrap();
        broadcast::prepare::ensure_prepared(&s.app, &s.ana, &video, &QUALITY).await.unwrap();
    }
    let handle = broadcast::start(&s.app, &s.ana, &playing(p.id, vec![account.id])).await.unwrap();
    let stream_id = handle.destinations[0].0;
    // While the first item plays, the second's prepared file is damaged (a bad sector, a disk
    // cleaned up by hand).
    let second = library::get(&s.app, &s.ana, items[1]).await.unwrap().content_hash.unwrap();
    let prepared = s.app.data_dir().join("prepared");
    for entry in std::fs::read_dir(&prepared).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with(&second) {
            std::fs::write(&path, b"FLV\x01 but not really").unwrap();
        }
    }
    let states = tokio::time::timeout(Duration::from_secs(60), handle.wait()).await.expect("the playlist ends");
    assert_eq!(states[&stream_id], StreamState::Ended);
    let row = broadcast::stream(&s.app, &s.ana, stream_id).await.unwrap();
    assert_eq!(row.reconnects, 0, "the destination stayed connected through the slate");

    // One unbroken stream: item 1, two seconds of slate, item 3.
    let video = packets(&ingest.recording(&key), "v:0");
    let span = video.last().unwrap().0 - video.first().unwrap().0 + 1.0 / 30.0;
    assert!((span - 6.0).abs() < 0.15, "2 s + 2 s of slate + 2 s: {span:.2} s");
    for w in video.windows(2) {
        let step = w[1].0 - w[0].0;
        assert!(step > 0.0 && step <= 1.0 / 30.0 + 0.0015, "a video gap of {step:.3} s at {:.3} s", w[0].0);
    }
    // What viewers saw in the middle: the dark card, not a test pattern.
    let start = video[0].0;
    let (during, before) = (mean_luma(&ingest.recording(&key), start + 3.0), mean_luma(&ingest.recording(&key), start + 1.0));
    assert!(during < 60.0 && before > 90.0, "slate luma {during:.0}, item luma {before:.0}");
    let log = broadcast::logs(&s.app, &s.ana, stream_id).await.unwrap();
    assert!(log.iter().any(|(_, level, m)| level == "warn" && m.starts_with("skipped “Item 2”")), "{log:?}");
    assert!(log.iter().any(|(_, _, m)| m == "now playing: Item 3"), "{log:?}");
    twitcher_testkit::wait_until(Duration::from_secs(10), "the item_skipped alert at the webhook", || {
        posted.lock().unwrap().iter().any(|b| b["event"] == "item_skipped" && b["item"] == "Item 2")
    });
    alerts_done.cancel();
    let _ = alerts.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlists_own_slate_video_covers_an_item_that_cannot_play() {
    let ingest = Ingest::start();
    let s = setup().await;
    let first = clip(&s, &s.ana, "first", &["-t", "2"]).await;
    let missing = clip(&s, &s.ana, "missing", &["-t", "2", "-vf", "hue=h=90"]).await;
    let last = clip(&s, &s.ana, "last", &["-t", "2", "-vf", "hue=h=180"]).await;
    // The user's slate: 1.5 s of white ("we'll be right back" in the channel's colours).
    let slate = clip(&s, &s.ana, "white", &["-t", "1.5", "-vf", "drawbox=c=white:t=fill"]).await;
    let p = playlists::create(&s.app, &s.ana, "Branded").await.unwrap();
    for video in [first, missing, last] {
        playlists::add(&s.app, &s.ana, p.id, video, None, &ItemMeta::default()).await.unwrap();
    }
    // A slate that is not in the library is refused, and changes nothing.
    let refused = playlists::set_options(&s.app, &s.ana, p.id, &PlaylistOptions { slate_video_id: Some(9999), ..Default::default() }).await.unwrap_err();
    assert_eq!(code(refused), "video_not_found");
    let p = playlists::set_options(&s.app, &s.ana, p.id, &PlaylistOptions { slate_video_id: Some(slate), ..Default::default() }).await.unwrap();
    assert_eq!(p.options.slate_video_id, Some(slate));
    let key = format!("live_1_{}", uuid::Uuid::new_v4().simple());
    let input = AccountInput { display_name: "Main".into(), channel_id: Some("1001".into()), login: None, ingest_server: Some(ingest.server()) };
    let account = accounts::add(&s.app, &s.ana, &input, &key).await.unwrap();
    for video in [first, last] {
        let video = library::get(&s.app, &s.ana, video).await.unwrap();
        broadcast::prepare::ensure_prepared(&s.app, &s.ana, &video, &QUALITY).await.unwrap();
    }
    // The second item's source is gone before it could be prepared.
    let gone = library::get(&s.app, &s.ana, missing).await.unwrap();
    std::fs::remove_file(gone.local_path.as_ref().unwrap()).unwrap();

    let handle = broadcast::start(&s.app, &s.ana, &playing(p.id, vec![account.id])).await.unwrap();
    let stream_id = handle.destinations[0].0;
    // While it plays, the slate video cannot be deleted from the library.
    assert!(library::remove(&s.app, &s.ana, slate).await.is_err(), "the slate of a running playlist is in use");
    let states = tokio::time::timeout(Duration::from_secs(60), handle.wait()).await.expect("the playlist ends");
    assert_eq!(states[&stream_id], StreamState::Ended);

    let recording = ingest.recording(&key);
    let video = packets(&recording, "v:0");
    let span = video.last().unwrap().0 - video.first().unwrap().0 + 1.0 / 30.0;
    assert!((span - 5.5).abs() < 0.15, "2 s + 1.5 s of the user's slate + 2 s: {span:.2} s");
    let start = video[0].0;
    let during = mean_luma(&recording, start + 2.7);
    assert!(during > 200.0, "the white slate played, not the built-in card: luma {during:.0}");
    let log = broadcast::logs(&s.app, &s.ana, stream_id).await.unwrap();
    assert!(log.iter().any(|(_, level, m)| level == "warn" && m.starts_with("skipped “missing”")), "{log:?}");
}

/// Issue 30: the API lists a page at a time. Pages by id hold every playlist once, each with
/// its own items (fetched for the whole page in one query), on SQLite and PostgreSQL alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_come_a_page_at_a_time_each_with_its_own_items() {
    use twitcher_core::model::PageRequest;
    let s = setup().await;
    let video = clip(&s, &s.ana, "paged", &["-t", "1"]).await;
    let mut made = Vec::new();
    for i in 0..5 {
        let list = playlists::create(&s.app, &s.ana, &format!("Paged {i}")).await.unwrap();
        for _ in 0..i {
            playlists::add(&s.app, &s.ana, list.id, video, None, &ItemMeta::default()).await.unwrap();
        }
        made.push((list.id, i));
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::new(None, Some(2));
    loop {
        let lists = playlists::list_page(&s.app, &s.ana, page).await.unwrap();
        seen.extend(lists.iter().map(|l| (l.id, l.items.len())));
        match page.next(lists.last().map(|l| l.id), lists.len()) {
            Some(cursor) => page = PageRequest::new(Some(cursor), Some(2)),
            None => break,
        }
    }
    assert_eq!(seen, made);
    let bo = profiles::register(&s.app, Some("Bo")).await.unwrap().profile;
    assert!(playlists::list_page(&s.app, &bo, PageRequest::new(None, None)).await.unwrap().is_empty(), "another profile's are not in its pages");
    assert!(twitcher_core::broadcast::list_page(&s.app, &s.ana, PageRequest::new(Some(1), Some(10))).await.unwrap().is_empty());
    assert!(twitcher_core::accounts::list_page(&s.app, &s.ana, PageRequest::new(None, Some(10))).await.unwrap().is_empty());
}
