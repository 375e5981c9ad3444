//! Recurring schedules on a real data dir, driven by a test clock (`schedules::tick(now)`), and
//! one occurrence really streamed to nginx-rtmp and ended by its schedule.

mod support;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Timelike, Utc};
use support::{make_video, Ingest};
use twitcher_core::accounts::{self, AccountInput};
use twitcher_core::broadcast::{self, Quality, StartRequest, StreamState};
use twitcher_core::jobs;
use twitcher_core::profiles::{self, Profile};
use twitcher_core::schedules::{self, ScheduleInput};
use twitcher_core::vault::KeyringPreference;
use twitcher_core::{library, Twitcher};

const QUALITY: Quality = Quality { fps: 30, video_bitrate_k: 800, audio_bitrate_k: 128, width: 640, height: 360 };

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

async fn setup(dir: &std::path::Path, ingest: &str) -> (Twitcher, Profile, StartRequest) {
    let app = support::open(&dir.join("data"), KeyringPreference::File).await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let file = make_video(dir, "show", "mp4", &["-t", "4"]);
    let (ids, _) = library::import(&app, &ana, &[file]).await.unwrap();
    let video_id = jobs::run_until_done(&app, &ids).await.unwrap()[0].video_id.unwrap();
    let input = AccountInput { display_name: "Main".into(), channel_id: "1001".into(), login: None, ingest_server: Some(ingest.into()) };
    let account = accounts::add(&app, &ana, &input, "live_1001_ScheduledKey1234567").await.unwrap();
    let request = StartRequest {
        video_id: Some(video_id),
        playlist_id: None,
        account_ids: vec![account.id],
        title: "Sunday night".into(),
        category: None,
        tags: vec![],
        quality: QUALITY,
        looped: true,
        live_encode: false,
    };
    (app, ana, request)
}

/// (scheduled_at, status) of the profile's broadcasts, oldest first.
async fn scheduled(app: &Twitcher, actor: &Profile) -> Vec<(String, StreamState)> {
    let mut rows: Vec<_> = broadcast::list(app, actor, None, 0).await.unwrap().into_iter().map(|r| (r.scheduled_at.unwrap_or_default(), r.status)).collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_schedule_across_a_dst_change_starts_at_the_right_instants_once_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (app, ana, request) = setup(dir.path(), "rtmp://127.0.0.1:9/app").await;
    let input = ScheduleInput {
        request,
        at: "20:00".into(),
        time_zone: "Europe/Berlin".into(),
        days: vec!["sun".into()],
        duration_sec: Some(2 * 3600),
        until: None,
    };
    let created = schedules::create_at(&app, &ana, &input, utc(2026, 10, 12, 0, 0)).await.unwrap();
    assert_eq!(created.next.len(), 7);
    assert_eq!(created.next[..3], ["2026-10-18T18:00:00.000Z", "2026-10-25T19:00:00.000Z", "2026-11-01T19:00:00.000Z"]);

    // Nothing before its lead time; then exactly one broadcast, though two processes tick at once.
    schedules::tick(&app, utc(2026, 10, 18, 17, 0)).await;
    assert!(scheduled(&app, &ana).await.is_empty());
    let other = Twitcher::open(app.data_dir()).await.unwrap();
    let at = utc(2026, 10, 18, 17, 57);
    tokio::join!(schedules::tick(&app, at), schedules::tick(&other, at));
    assert_eq!(scheduled(&app, &ana).await, vec![("2026-10-18T18:00:00.000Z".to_string(), StreamState::Scheduled)]);
    let row = broadcast::list(&app, &ana, None, 0).await.unwrap().remove(0);
    let log = broadcast::logs(&app, &ana, row.id).await.unwrap();
    assert!(log.iter().any(|(_, _, m)| m.contains("until 2026-10-18T20:00:00.000Z")), "ends two hours later: {log:?}");
    // It was claimed by the scheduler of some process (none runs here): cancel it to go on.
    broadcast::cancel(&app, &ana, &row.broadcast_id).await.unwrap();

    // A restart between occurrences: a new process on the same data dir carries on, past the change.
    app.close().await;
    drop((app, other));
    let app = Twitcher::open(&dir.path().join("data")).await.unwrap();
    schedules::tick(&app, utc(2026, 10, 25, 18, 56)).await;
    let rows = scheduled(&app, &ana).await;
    assert_eq!(rows.last().unwrap(), &("2026-10-25T19:00:00.000Z".to_string(), StreamState::Scheduled), "20:00 in Berlin is 19:00Z in winter: {rows:?}");
    let listed = schedules::list_at(&app, &ana, utc(2026, 10, 25, 18, 56)).await.unwrap();
    assert_eq!(listed[0].next[0], "2026-11-01T19:00:00.000Z");

    // An occurrence missed while nothing ran (past its end) is skipped, not started late.
    schedules::tick(&app, utc(2026, 11, 1, 21, 30)).await;
    assert_eq!(scheduled(&app, &ana).await.len(), 2);
    assert_eq!(schedules::get_at(&app, &ana, created.id, utc(2026, 11, 1, 21, 30)).await.unwrap().next[0], "2026-11-08T19:00:00.000Z");

    // Deleting the schedule cancels what it had scheduled.
    schedules::delete(&app, &ana, created.id).await.unwrap();
    assert!(scheduled(&app, &ana).await.iter().all(|(_, s)| *s == StreamState::Cancelled));
    assert!(schedules::list(&app, &ana).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_schedules_are_refused_with_their_code_and_another_profile_sees_none() {
    let dir = tempfile::tempdir().unwrap();
    let (app, ana, request) = setup(dir.path(), "rtmp://127.0.0.1:9/app").await;
    let good = ScheduleInput { request, at: "20:00".into(), time_zone: "Europe/Berlin".into(), days: vec![], duration_sec: None, until: None };
    let code = |e: schedules::ScheduleError| twitcher_core::Error::from(e).code().as_str().to_string();
    for bad in [
        ScheduleInput { at: "8pm".into(), ..good.clone() },
        ScheduleInput { time_zone: "Europe/Atlantis".into(), ..good.clone() },
        ScheduleInput { days: vec!["someday".into()], ..good.clone() },
        ScheduleInput { duration_sec: Some(60), until: Some("22:00".into()), ..good.clone() },
    ] {
        assert_eq!(code(schedules::create(&app, &ana, &bad).await.unwrap_err()), "invalid_input");
    }
    let no_video = ScheduleInput { request: StartRequest { video_id: Some(999), ..good.request.clone() }, ..good.clone() };
    assert_eq!(code(schedules::create(&app, &ana, &no_video).await.unwrap_err()), "video_not_found");
    assert!(schedules::list(&app, &ana).await.unwrap().is_empty(), "nothing was stored");

    let created = schedules::create(&app, &ana, &good).await.unwrap();
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    assert!(schedules::list(&app, &bo).await.unwrap().is_empty());
    assert_eq!(code(schedules::delete(&app, &bo, created.id).await.unwrap_err()), "schedule_not_found");
    assert_eq!(schedules::list(&app, &ana).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_occurrence_goes_live_and_its_schedule_ends_it() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    let (app, ana, request) = setup(dir.path(), &ingest.server()).await;
    // Daily at the current minute (UTC), as of a moment before it: its occurrence is now.
    let now = Utc::now();
    let minute = now.format("%H:%M").to_string();
    let input = ScheduleInput { request, at: minute, time_zone: "UTC".into(), days: vec![], duration_sec: Some(120), until: None };
    let start_of_minute = now.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap();
    schedules::create_at(&app, &ana, &input, start_of_minute - chrono::Duration::seconds(1)).await.unwrap();
    schedules::tick(&app, Utc::now()).await;
    let row = broadcast::list(&app, &ana, None, 0).await.unwrap().remove(0);
    assert_eq!(row.status, StreamState::Scheduled);
    let handle = broadcast::start_when_due(&app, &row.broadcast_id).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(broadcast::stream(&app, &ana, row.id).await.unwrap().status, StreamState::Live);

    // Its end comes (two minutes on, by the test clock): a stop order, carried out within a second or two.
    schedules::tick(&app, start_of_minute + chrono::Duration::seconds(121)).await;
    let states = tokio::time::timeout(Duration::from_secs(10), handle.wait()).await.expect("ended by its schedule");
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");
    assert!(ingest.publishes("live_1001_ScheduledKey1234567") >= 1);
}
