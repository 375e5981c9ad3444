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
    let input = AccountInput { display_name: "Main".into(), channel_id: Some("1001".into()), login: None, ingest_server: Some(ingest.into()) };
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
        twitch_schedule: false,
    };
    let created = schedules::create_at(&app, &ana, &input, utc(2026, 10, 12, 0, 0)).await.unwrap();
    assert_eq!(created.next.len(), 7);
    assert_eq!(created.next[..3], ["2026-10-18T18:00:00.000Z", "2026-10-25T19:00:00.000Z", "2026-11-01T19:00:00.000Z"]);

    // Nothing before its lead time; then exactly one broadcast, though two processes tick at once.
    schedules::tick(&app, utc(2026, 10, 18, 17, 0)).await.unwrap();
    assert!(scheduled(&app, &ana).await.is_empty());
    let other = support::open_from_env(app.data_dir()).await;
    let at = utc(2026, 10, 18, 17, 57);
    let (a, b) = tokio::join!(schedules::tick(&app, at), schedules::tick(&other, at));
    (a.unwrap(), b.unwrap());
    assert_eq!(scheduled(&app, &ana).await, vec![("2026-10-18T18:00:00.000Z".to_string(), StreamState::Scheduled)]);
    let row = broadcast::list(&app, &ana, None, 0).await.unwrap().remove(0);
    let log = broadcast::logs(&app, &ana, row.id).await.unwrap();
    assert!(log.iter().any(|(_, _, m)| m.contains("until 2026-10-18T20:00:00.000Z")), "ends two hours later: {log:?}");
    // It was claimed by the scheduler of some process (none runs here): cancel it to go on.
    broadcast::cancel(&app, &ana, &row.broadcast_id).await.unwrap();

    // A restart between occurrences: a new process on the same data dir carries on, past the change.
    app.close().await;
    drop((app, other));
    let app = support::open_from_env(&dir.path().join("data")).await;
    schedules::tick(&app, utc(2026, 10, 25, 18, 56)).await.unwrap();
    let rows = scheduled(&app, &ana).await;
    assert_eq!(rows.last().unwrap(), &("2026-10-25T19:00:00.000Z".to_string(), StreamState::Scheduled), "20:00 in Berlin is 19:00Z in winter: {rows:?}");
    let listed = schedules::list_at(&app, &ana, utc(2026, 10, 25, 18, 56)).await.unwrap();
    assert_eq!(listed[0].next[0], "2026-11-01T19:00:00.000Z");

    // An occurrence missed while nothing ran (past its end) is skipped, not started late.
    schedules::tick(&app, utc(2026, 11, 1, 21, 30)).await.unwrap();
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
    let good = ScheduleInput { request, at: "20:00".into(), time_zone: "Europe/Berlin".into(), days: vec![], duration_sec: None, until: None, twitch_schedule: false };
    let code = |e: schedules::ScheduleError| twitcher_core::Error::from(e).code().as_str().to_string();
    for bad in [
        ScheduleInput { at: "8pm".into(), ..good.clone() },
        ScheduleInput { time_zone: "Europe/Atlantis".into(), ..good.clone() },
        ScheduleInput { days: vec!["someday".into()], ..good.clone() },
        ScheduleInput { duration_sec: Some(60), until: Some("22:00".into()), ..good.clone() },
        // Past a week (Twitch ends a broadcast at 48 h), and the value that once stopped the scheduler.
        ScheduleInput { duration_sec: Some(schedules::MAX_DURATION_SEC + 1), ..good.clone() },
        ScheduleInput { duration_sec: Some(9_000_000_000_000_000), twitch_schedule: true, ..good.clone() },
        ScheduleInput { duration_sec: Some(i64::MAX), ..good.clone() },
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

/// Issue 30: no plan capped playlists, schedules or broadcasts booked ahead (300 profiles could
/// each keep any number). Now each is a plan limit, checked with the insert under the write lock
/// (ten at once pass a cap of two only twice); an ADMIN is not capped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_caps_playlists_schedules_and_broadcasts_booked_ahead_and_an_admin_is_not_capped() {
    let dir = tempfile::tempdir().unwrap();
    let (app, ana, request) = setup(dir.path(), "rtmp://127.0.0.1:9/app").await;
    let caps = profiles::PlanLimits { max_playlists: Some(2), max_schedules: Some(2), max_scheduled: Some(1), ..ana.limits };
    profiles::set_plan_limits(&app, &ana, profiles::Plan::Free, &caps).await.unwrap();
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    let file = make_video(dir.path(), "bo", "mp4", &["-t", "2"]);
    let (ids, _) = library::import(&app, &bo, &[file]).await.unwrap();
    let video_id = jobs::run_until_done(&app, &ids).await.unwrap()[0].video_id.unwrap();
    let input = AccountInput { display_name: "Bo".into(), channel_id: Some("2002".into()), login: None, ingest_server: Some("rtmp://127.0.0.1:9/app".into()) };
    let account = accounts::add(&app, &bo, &input, "live_2002_BoScheduledKey12345").await.unwrap();
    let bo_request = StartRequest { video_id: Some(video_id), account_ids: vec![account.id], ..request.clone() };
    let code = |e: twitcher_core::Error| e.code().as_str().to_string();

    // Playlists: ten at once against a cap of two.
    let attempts = (0..10).map(|i| {
        let (app, bo) = (app.clone(), bo.clone());
        tokio::spawn(async move { twitcher_core::playlists::create(&app, &bo, &format!("List {i}")).await })
    });
    let mut made = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => made += 1,
            Err(e) => assert_eq!(code(e.into()), "plan_limit"),
        }
    }
    assert_eq!(made, 2);
    // Recurring schedules.
    let weekly = ScheduleInput { request: bo_request.clone(), at: "20:00".into(), time_zone: "UTC".into(), days: vec![], duration_sec: None, until: None, twitch_schedule: false };
    for _ in 0..2 {
        schedules::create(&app, &bo, &weekly).await.unwrap();
    }
    let refused = schedules::create(&app, &bo, &weekly).await.unwrap_err();
    assert!(refused.to_string().contains("2 recurring schedules"), "{refused}");
    assert_eq!(code(refused.into()), "plan_limit");
    // Broadcasts booked ahead.
    let at = |hours: i64| (Utc::now() + chrono::Duration::hours(hours)).to_rfc3339();
    broadcast::schedule(&app, &bo, &bo_request, &at(1)).await.unwrap();
    let refused = broadcast::schedule(&app, &bo, &bo_request, &at(2)).await.unwrap_err();
    assert_eq!(code(refused.into()), "plan_limit");
    // The ADMIN is not held to the plan's counts.
    for h in 1..=3 {
        broadcast::schedule(&app, &ana, &request, &at(h)).await.unwrap();
        twitcher_core::playlists::create(&app, &ana, &format!("Admin {h}")).await.unwrap();
    }
}

/// Issue 29: a stored duration of 9e15 s (accepted before durations were bounded) made the
/// scheduler's date arithmetic panic when its occurrence came, and no schedule of any profile
/// started again. Now that schedule is set aside with its reason, once, and the others go on.
#[tokio::test]
async fn a_schedule_with_a_stored_value_out_of_range_is_set_aside_and_every_other_schedule_still_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (app, ana, request) = setup(dir.path(), "rtmp://127.0.0.1:9/app").await;
    let daily = ScheduleInput { request, at: "20:00".into(), time_zone: "Europe/Berlin".into(), days: vec![], duration_sec: Some(3600), until: None, twitch_schedule: false };
    let created_at = utc(2026, 10, 12, 0, 0);
    let poison = schedules::create_at(&app, &ana, &daily, created_at).await.unwrap();
    let control = schedules::create_at(&app, &ana, &ScheduleInput { at: "20:01".into(), ..daily.clone() }, created_at).await.unwrap();
    // As an old database holds it (the value was accepted then).
    support::execute(&app, "UPDATE schedules SET duration_sec = 9000000000000000 WHERE id = $1", &[support::Bind::Int(poison.id)]).await;

    // Both are due within the lead time: the control becomes a scheduled broadcast.
    schedules::tick(&app, utc(2026, 10, 12, 17, 58)).await.unwrap();
    assert_eq!(scheduled(&app, &ana).await, vec![("2026-10-12T18:01:00.000Z".to_string(), StreamState::Scheduled)]);
    let listed = schedules::list_at(&app, &ana, utc(2026, 10, 12, 17, 58)).await.unwrap();
    let set_aside = listed.iter().find(|s| s.id == poison.id).unwrap();
    let reason = set_aside.error.as_deref().expect("the poison schedule shows why it is skipped");
    assert!(reason.contains("too long") && reason.contains("delete it"), "{reason}");
    assert!(set_aside.next.is_empty(), "it shows no next start: {set_aside:?}");
    assert_eq!(listed.iter().find(|s| s.id == control.id).unwrap().error, None);

    // The next day the control starts again; the poison one is not read again (its reason stays).
    schedules::tick(&app, utc(2026, 10, 13, 17, 58)).await.unwrap();
    let starts: Vec<String> = scheduled(&app, &ana).await.into_iter().map(|(at, _)| at).collect();
    assert!(starts.contains(&"2026-10-13T18:01:00.000Z".to_string()), "{starts:?}");
    assert!(!starts.iter().any(|at| at.ends_with("18:00:00.000Z")), "the poison schedule started nothing: {starts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_occurrence_goes_live_and_its_schedule_ends_it() {
    let ingest = Ingest::start();
    let dir = tempfile::tempdir().unwrap();
    let (app, ana, request) = setup(dir.path(), &ingest.server()).await;
    // Daily at the current minute (UTC), as of a moment before it: its occurrence is now.
    let now = Utc::now();
    let minute = now.format("%H:%M").to_string();
    let input = ScheduleInput { request, at: minute, time_zone: "UTC".into(), days: vec![], duration_sec: Some(120), until: None, twitch_schedule: false };
    let start_of_minute = now.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap();
    schedules::create_at(&app, &ana, &input, start_of_minute - chrono::Duration::seconds(1)).await.unwrap();
    schedules::tick(&app, Utc::now()).await.unwrap();
    let row = broadcast::list(&app, &ana, None, 0).await.unwrap().remove(0);
    assert_eq!(row.status, StreamState::Scheduled);
    let handle = broadcast::start_when_due(&app, &row.broadcast_id).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(broadcast::stream(&app, &ana, row.id).await.unwrap().status, StreamState::Live);

    // Its end comes (two minutes on, by the test clock): a stop order, carried out within a second or two.
    schedules::tick(&app, start_of_minute + chrono::Duration::seconds(121)).await.unwrap();
    let states = tokio::time::timeout(Duration::from_secs(10), handle.wait()).await.expect("ended by its schedule");
    assert!(states.values().all(|s| *s == StreamState::Ended), "{states:?}");
    assert!(ingest.publishes("live_1001_ScheduledKey1234567") >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_goes_on_each_channels_twitch_schedule_as_weekly_segments_and_leaves_with_it() {
    use twitcher_testkit::twitch::{FakeTwitch, FakeUser};
    let fake = FakeTwitch::start();
    fake.add_user(FakeUser::new("41245072", "nightowl", "live_41245072_SegKeyOne11111"));
    // Connected before Twitcher asked for the schedule scope.
    let mut old_grant = FakeUser::new("77701", "oldgrant", "live_77701_SegKeyTwo2222222");
    old_grant.grants = Some(vec!["channel:read:stream_key".into(), "channel:manage:broadcast".into()]);
    fake.add_user(old_grant);
    let dir = tempfile::tempdir().unwrap();
    let app = support::open_with_twitch(&dir.path().join("data"), &fake, "http://127.0.0.1:9/unreachable").await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let file = make_video(dir.path(), "show", "mp4", &["-t", "2"]);
    let (ids, _) = library::import(&app, &ana, &[file]).await.unwrap();
    let video_id = jobs::run_until_done(&app, &ids).await.unwrap()[0].video_id.unwrap();
    let mut account_ids = support::connect_accounts(&app, &ana, &fake, &["41245072", "77701"], "rtmp://127.0.0.1:9/app").await;
    let by_hand = AccountInput { display_name: "Side".into(), channel_id: Some("1001".into()), login: None, ingest_server: None };
    account_ids.push(accounts::add(&app, &ana, &by_hand, "live_1001_SegKeyThree333333").await.unwrap().id);
    let request = StartRequest {
        video_id: Some(video_id),
        playlist_id: None,
        account_ids: account_ids.clone(),
        title: "Retro night".into(),
        category: None,
        tags: vec![],
        quality: QUALITY,
        looped: true,
        live_encode: false,
    };
    let input = ScheduleInput {
        request,
        at: "20:00".into(),
        time_zone: "Europe/Berlin".into(),
        days: vec!["wed".into(), "mon".into()],
        duration_sec: Some(2 * 3600),
        until: None,
        twitch_schedule: true,
    };
    let created = schedules::create_at(&app, &ana, &input, utc(2026, 10, 12, 0, 0)).await.unwrap();

    // Monday and Wednesday at 20:00 CEST (18:00Z), recurring weekly in Berlin time, 2 hours.
    let segments = fake.schedule("41245072");
    let got: Vec<(&str, &str, i64, bool, &str)> =
        segments.iter().map(|s| (s.start_time.as_str(), s.timezone.as_str(), s.duration_min, s.is_recurring, s.title.as_str())).collect();
    assert_eq!(
        got,
        vec![("2026-10-12T18:00:00Z", "Europe/Berlin", 120, true, "Retro night"), ("2026-10-14T18:00:00Z", "Europe/Berlin", 120, true, "Retro night")]
    );
    assert!(fake.schedule("77701").is_empty());
    let on = |id: i64| created.on_twitch.iter().find(|t| t.account_id == id).unwrap().clone();
    assert_eq!((on(account_ids[0]).segments, on(account_ids[0]).notice), (2, None));
    assert!(on(account_ids[1]).notice.unwrap().contains("channel:manage:schedule"), "{:?}", created.on_twitch);
    assert!(on(account_ids[2]).notice.unwrap().contains("added by hand"), "{:?}", created.on_twitch);
    // Shown the same way afterwards.
    assert_eq!(schedules::get(&app, &ana, created.id).await.unwrap().on_twitch.len(), 3);

    // Paused: its segments leave Twitch (viewers are not told of starts that will not come), and
    // each channel says why; resumed, they are back; edited, they are replaced.
    let paused = schedules::pause(&app, &ana, created.id).await.unwrap();
    assert!(fake.schedule("41245072").is_empty(), "no segment while paused");
    let on_paused = paused.on_twitch.iter().find(|t| t.account_id == account_ids[0]).unwrap();
    assert_eq!((on_paused.segments, on_paused.notice.as_deref()), (0, Some("off the Twitch schedule while the schedule is paused")));
    schedules::resume_at(&app, &ana, created.id, utc(2026, 10, 12, 0, 0)).await.unwrap();
    let starts = |fake: &FakeTwitch| fake.schedule("41245072").iter().map(|s| s.start_time.clone()).collect::<Vec<_>>();
    assert_eq!(starts(&fake), ["2026-10-12T18:00:00Z", "2026-10-14T18:00:00Z"], "back on Twitch when resumed");
    let mut friday = input.clone();
    friday.days = vec!["fri".into()];
    friday.at = "21:00".into();
    let edited = schedules::update_at(&app, &ana, created.id, &friday, utc(2026, 10, 12, 0, 0)).await.unwrap();
    assert_eq!(starts(&fake), ["2026-10-16T19:00:00Z"], "the old segments replaced by the edited one");
    assert_eq!(edited.on_twitch.iter().find(|t| t.account_id == account_ids[0]).unwrap().segments, 1);

    schedules::delete(&app, &ana, created.id).await.unwrap();
    assert!(fake.schedule("41245072").is_empty(), "the segments left with the schedule");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_schedule_starts_nothing_resumes_from_its_next_time_and_an_edit_replaces_its_booked_start() {
    let dir = tempfile::tempdir().unwrap();
    let (app, ana, request) = setup(dir.path(), "rtmp://127.0.0.1:9/app").await;
    let input = ScheduleInput {
        request,
        at: "20:00".into(),
        time_zone: "Europe/Berlin".into(),
        days: vec![],
        duration_sec: Some(3600),
        until: None,
        twitch_schedule: false,
    };
    // Daily at 20:00 in Berlin: 18:00Z in October 2026 (summer time until the 25th).
    let created = schedules::create_at(&app, &ana, &input, utc(2026, 10, 12, 0, 0)).await.unwrap();
    assert!(!created.paused);
    schedules::tick(&app, utc(2026, 10, 12, 17, 57)).await.unwrap();
    assert_eq!(scheduled(&app, &ana).await, vec![("2026-10-12T18:00:00.000Z".to_string(), StreamState::Scheduled)]);

    // Paused: the occurrence booked for tonight is cancelled, no next start is listed, and two
    // more days of the scheduler start nothing.
    let paused = schedules::pause(&app, &ana, created.id).await.unwrap();
    assert!(paused.paused && paused.next.is_empty(), "{paused:?}");
    assert_eq!(scheduled(&app, &ana).await, vec![("2026-10-12T18:00:00.000Z".to_string(), StreamState::Cancelled)]);
    for day in [13, 14] {
        schedules::tick(&app, utc(2026, 10, day, 17, 57)).await.unwrap();
        schedules::tick(&app, utc(2026, 10, day, 18, 1)).await.unwrap();
    }
    assert_eq!(scheduled(&app, &ana).await.len(), 1, "nothing booked while paused");
    // Another process on the same data dir sees it paused (the database is the truth).
    let other = support::open_from_env(app.data_dir()).await;
    assert!(schedules::get(&other, &ana, created.id).await.unwrap().paused);

    // Resumed on the 14th at 19:00Z, after that day's start: it goes on from the 15th, and the
    // start missed while paused is not made up.
    let resumed = schedules::resume_at(&app, &ana, created.id, utc(2026, 10, 14, 19, 0)).await.unwrap();
    assert!(!resumed.paused);
    assert_eq!(resumed.next[0], "2026-10-15T18:00:00.000Z");
    schedules::tick(&app, utc(2026, 10, 14, 19, 0)).await.unwrap();
    assert_eq!(scheduled(&app, &ana).await.len(), 1, "the missed start is not made up");
    schedules::tick(&other, utc(2026, 10, 15, 17, 57)).await.unwrap();
    assert_eq!(scheduled(&app, &ana).await[1], ("2026-10-15T18:00:00.000Z".to_string(), StreamState::Scheduled));

    // Edited to Mondays at 21:30 with another title: the same schedule (id) says so, the start
    // booked from the old time is cancelled, and the next booking is at the new time.
    let mut monday = input.clone();
    monday.at = "21:30".into();
    monday.days = vec!["mon".into()];
    monday.request.title = "Late show".into();
    let edited = schedules::update_at(&app, &ana, created.id, &monday, utc(2026, 10, 15, 17, 58)).await.unwrap();
    assert_eq!((edited.id, edited.at.as_str(), edited.days.clone(), edited.request.title.as_str()), (created.id, "21:30", vec!["mon".to_string()], "Late show"));
    assert_eq!(edited.next[0], "2026-10-19T19:30:00.000Z");
    assert!(scheduled(&app, &ana).await.iter().all(|(_, s)| *s == StreamState::Cancelled), "the old booking is cancelled");
    schedules::tick(&app, utc(2026, 10, 19, 19, 26)).await.unwrap();
    assert_eq!(scheduled(&app, &ana).await.last().unwrap(), &("2026-10-19T19:30:00.000Z".to_string(), StreamState::Scheduled));
    // An edit is checked as a new schedule is: a bad zone is refused and changes nothing.
    let mut bad = monday.clone();
    bad.time_zone = "Mars/Olympus".into();
    assert!(matches!(schedules::update(&app, &ana, created.id, &bad).await, Err(schedules::ScheduleError::Invalid(_))));
    assert_eq!(schedules::get(&app, &ana, created.id).await.unwrap().time_zone, "Europe/Berlin");

    // Another profile can neither pause, resume nor edit it.
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    assert!(matches!(schedules::pause(&app, &bo, created.id).await, Err(schedules::ScheduleError::NotFound { .. })));
    assert!(matches!(schedules::resume(&app, &bo, created.id).await, Err(schedules::ScheduleError::NotFound { .. })));
    assert!(matches!(schedules::update(&app, &bo, created.id, &monday).await, Err(schedules::ScheduleError::NotFound { .. })));
    assert!(!schedules::get(&app, &ana, created.id).await.unwrap().paused);
}
