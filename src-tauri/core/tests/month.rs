//! A month on a paused clock (issue 29): the runtime as `serve` and the window run it — recurring
//! schedules, due broadcasts, stop orders at occurrence ends, recovery and leases, log retention,
//! token validation, the job worker, alerts, the disk watch — driven through 30 simulated days
//! on tokio's paused clock against the real database, with the broadcasts faked at the publisher
//! boundary only (the source reads and paces the prepared file as in production; the bytes go
//! nowhere). Two daily schedules cross both daylight-saving changes of 2027: Berlin's
//! (31 October) and New York's (7 November).
//!
//! The clock: [`twitcher_core::clock::simulate_from`] makes the core's dates (and the database's
//! `@now`) move with tokio's clock, which jumps to the next timer whenever nothing runs — never
//! while a database connection is out (see `db::held_clock`). The scheduler's tasks turn every
//! [`TICK`] instead of every 2 s, the others every [`OTHERS`] (a month would be millions of turns);
//! every start and end in the test is on a multiple of [`TICK`], so a turn falls on each.
//!
//! Its own test binary: the simulated clock is for the whole process.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use twitcher_core::accounts::{self, AccountInput};
use twitcher_core::broadcast::{self, EngineOptions, Quality, StartRequest};
use twitcher_core::runtime::{Periods, Runtime};
use twitcher_core::schedules::{self, ScheduleInput};
use twitcher_core::vault::KeyringPreference;
use twitcher_core::profiles::{self, Profile};
use twitcher_core::{jobs, library, Twitcher};

const QUALITY: Quality = Quality { fps: 30, video_bitrate_k: 800, audio_bitrate_k: 128, width: 640, height: 360 };
/// How often recovery, recurring schedules and due broadcasts turn in the simulated month (every
/// start and end below falls on one), and every other task.
const TICK: Duration = Duration::from_secs(300);
const OTHERS: Duration = Duration::from_secs(1800);
const DAYS: i64 = 30;
/// Each occurrence lasts five minutes.
const DURATION_SEC: i64 = 300;
/// How late a start or an end may be: the turn it falls on, and the supervisor's next second.
const SLACK_MS: i64 = 2_000;

/// The two schedules: (zone, local time, accounts by index).
const SCHEDULES: [(&str, &str, &[usize]); 2] = [("Europe/Berlin", "20:00", &[0, 1]), ("America/New_York", "19:30", &[1])];

fn month_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 10, 25, 0, 0, 0).unwrap()
}

/// Every occurrence the month must hold, computed here from the zone database alone: (schedule
/// index, start) of those that end within the month.
fn expected_occurrences(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(usize, DateTime<Utc>)> {
    let mut out = Vec::new();
    for (index, (zone, at, _)) in SCHEDULES.iter().enumerate() {
        let zone: Tz = zone.parse().unwrap();
        let (h, m) = at.split_once(':').map(|(h, m)| (h.parse().unwrap(), m.parse().unwrap())).unwrap();
        let mut day = start.with_timezone(&zone).date_naive();
        while let Some(local) = day.and_hms_opt(h, m, 0) {
            let when = zone.from_local_datetime(&local).earliest().unwrap().with_timezone(&Utc);
            if when >= end {
                break;
            }
            if when >= start && when + chrono::Duration::seconds(DURATION_SEC) <= end {
                out.push((index, when));
            }
            day = day.succ_opt().unwrap();
        }
    }
    out
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn parse(at: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at).unwrap_or_else(|e| panic!("{at}: {e}")).with_timezone(&Utc)
}

/// The library, the prepared copy and the accounts, made on the real clock: FFmpeg's limits are
/// timers, and a paused clock would jump to them while FFmpeg works.
fn set_up(data: &std::path::Path, media: &std::path::Path) -> (Profile, i64, Vec<i64>) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let app = support::open(data, KeyringPreference::File).await;
        let owner = profiles::register(&app, Some("Month")).await.unwrap().profile;
        let file = support::make_video(media, "show", "mp4", &["-t", "4"]);
        let (ids, _) = library::import(&app, &owner, &[file]).await.unwrap();
        let video_id = jobs::run_until_done(&app, &ids).await.unwrap()[0].video_id.unwrap();
        let video = library::get(&app, &owner, video_id).await.unwrap();
        broadcast::prepare::ensure_prepared(&app, &owner, &video, &QUALITY).await.unwrap();
        let mut accounts = Vec::new();
        for (i, name) in ["Berlin channel", "Shared channel"].iter().enumerate() {
            let input = AccountInput { display_name: name.to_string(), channel_id: Some(format!("{}", 4000 + i)), login: None, ingest_server: Some("rtmp://127.0.0.1:9/app".into()) };
            accounts.push(accounts::add(&app, &owner, &input, &format!("live_{}_MonthKey{i}abcdefghijklmnop", 4000 + i)).await.unwrap().id);
        }
        app.close().await;
        (owner, video_id, accounts)
    })
}

/// Every stream row: (schedule id, started, ended, status, ends at, bytes sent).
type Row = (Option<i64>, Option<String>, Option<String>, String, Option<String>, i64);

async fn rows(app: &Twitcher) -> Vec<Row> {
    let db = app.testing_db();
    sqlx::query_as::<_, Row>(&db.testing_sql("SELECT schedule_id, started_at, ended_at, status, ends_at, bytes_sent FROM streams ORDER BY id"))
        .fetch_all(db.testing_pool())
        .await
        .unwrap()
}

#[test]
fn a_month_of_daily_schedules_across_both_dst_changes_starts_and_stops_every_occurrence_once_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (owner, video_id, accounts) = set_up(&data, dir.path());

    let clock = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    // A failed assertion must not wait on the database's hold of the clock when the runtime drops.
    let month = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| clock.block_on(async {
        let start = month_start();
        let end = start + chrono::Duration::days(DAYS);
        twitcher_core::clock::simulate_from(start);
        let engine = EngineOptions { publish_nowhere: true, lease_renew_every: Duration::from_secs(120), ..EngineOptions::default() };
        let app = support::open_with_engine(&data, KeyringPreference::File, "http://127.0.0.1:9/unreachable", engine).await;
        let mut schedule_ids = Vec::new();
        for (zone, at, which) in SCHEDULES {
            let request = StartRequest {
                video_id: Some(video_id),
                playlist_id: None,
                account_ids: which.iter().map(|&i| accounts[i]).collect(),
                title: format!("Daily at {at} {zone}"),
                category: None,
                tags: vec![],
                quality: QUALITY,
                looped: true,
                live_encode: false,
            };
            let input = ScheduleInput { request, at: at.into(), time_zone: zone.into(), days: vec![], duration_sec: Some(DURATION_SEC), until: None, twitch_schedule: false };
            schedule_ids.push(schedules::create(&app, &owner, &input).await.unwrap().id);
        }
        let alerts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = alerts.clone();
        let runtime = Runtime::start_with(&app, Periods { tick: TICK, ..Periods::all(OTHERS) }, move |alert| sink.lock().unwrap().push(alert.clone()));

        // Day by day, at noon UTC (no occurrence runs then): open files and what the registry holds.
        let real = Instant::now();
        let mut daily: Vec<(i64, usize, Vec<(&'static str, usize)>)> = Vec::new();
        for day in 0..DAYS {
            let noon = start + chrono::Duration::days(day) + chrono::Duration::hours(12);
            let ahead = (noon - twitcher_core::clock::now()).to_std().unwrap();
            tokio::time::sleep(ahead).await;
            daily.push((day + 1, open_files(), app.testing_registry_sizes()));
            eprintln!("day {} of {DAYS}: {:.1} s of real time", day + 1, real.elapsed().as_secs_f64());
        }
        let to_end = (end - twitcher_core::clock::now()).to_std().unwrap();
        tokio::time::sleep(to_end).await;
        let real_secs = real.elapsed().as_secs_f64();
        let tasks = app.tasks().report(app.instance_id());
        let rows = rows(&app).await;
        runtime.shutdown(Duration::from_secs(10)).await;

        // Every occurrence: one row per destination, started at its local time and ended by its
        // schedule five minutes later, "ended".
        let expected = expected_occurrences(start, end);
        let mut by_start: BTreeMap<(Option<i64>, String), Vec<&Row>> = BTreeMap::new();
        for row in &rows {
            let started = row.1.as_deref().map(|s| parse(s).format("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default();
            by_start.entry((row.0, started)).or_default().push(row);
        }
        let (mut worst_start_ms, mut worst_end_ms) = (0i64, 0i64);
        for (index, at) in &expected {
            let key = (Some(schedule_ids[*index]), at.format("%Y-%m-%dT%H:%M").to_string());
            let found = by_start.remove(&key).unwrap_or_else(|| panic!("no broadcast of schedule {index} started at {at} ({}); rows: {rows:#?}", at.with_timezone(&SCHEDULES[*index].0.parse::<Tz>().unwrap())));
            assert_eq!(found.len(), SCHEDULES[*index].2.len(), "one row per destination at {at}: {found:?}; rows ending then: {:?}", rows.iter().filter(|r| r.4.as_deref().map(parse) == Some(*at + chrono::Duration::seconds(DURATION_SEC))).collect::<Vec<_>>());
            for (_, started, ended, status, ends_at, _) in found {
                assert_eq!(status, "ended", "{at}: {found:?}", found = (started, ended, ends_at));
                let (started, ended) = (parse(started.as_deref().unwrap()), parse(ended.as_deref().unwrap()));
                let late_start = (started - *at).num_milliseconds();
                let late_end = (ended - (*at + chrono::Duration::seconds(DURATION_SEC))).num_milliseconds();
                assert!((0..=SLACK_MS).contains(&late_start), "{at}: started {started}");
                assert!((0..=SLACK_MS).contains(&late_end), "{at}: ended {ended}");
                assert_eq!(ends_at.as_deref().map(parse), Some(*at + chrono::Duration::seconds(DURATION_SEC)));
                worst_start_ms = worst_start_ms.max(late_start);
                worst_end_ms = worst_end_ms.max(late_end);
            }
        }
        // The source paced the file on the simulated clock: every five minutes carried the same
        // bytes to each destination (within 2 %).
        let mut bytes: Vec<i64> = rows.iter().map(|r| r.5).collect();
        bytes.sort_unstable();
        let median = bytes[bytes.len() / 2];
        assert!(median > 0 && bytes.iter().all(|b| (*b - median).abs() * 50 <= median), "bytes sent per destination: {bytes:?}");
        // Nothing else ran, and nothing is left in a state between start and end.
        assert!(by_start.is_empty(), "broadcasts no schedule asked for: {by_start:#?}");
        assert!(rows.iter().all(|r| r.3 == "ended"), "rows not ended: {:?}", rows.iter().filter(|r| r.3 != "ended").collect::<Vec<_>>());

        // The local times across the changes: Berlin 20:00 is 18:00Z before 31 October and 19:00Z
        // after; New York 19:30 is 23:30Z before 7 November and 00:30Z after.
        let berlin: Vec<String> = expected.iter().filter(|(i, _)| *i == 0).map(|(_, at)| at.format("%m-%d %H:%M").to_string()).collect();
        let new_york: Vec<String> = expected.iter().filter(|(i, _)| *i == 1).map(|(_, at)| at.format("%m-%d %H:%M").to_string()).collect();
        for (list, before, after) in [(&berlin, "10-30 18:00", "10-31 19:00"), (&new_york, "11-06 23:30", "11-08 00:30")] {
            assert!(list.contains(&before.to_string()) && list.contains(&after.to_string()), "{list:?}");
        }

        // Both schedules still usable, each with its next start after the month.
        for schedule in schedules::list(&app, &owner).await.unwrap() {
            assert!(schedule.error.is_none(), "{schedule:?}");
            assert!(schedule.next.first().is_some_and(|next| parse(next) > end), "{schedule:?}");
        }
        // No task restarted or failed.
        for task in &tasks {
            assert_eq!((task.name.as_str(), task.restarts, task.failures), (task.name.as_str(), 0, 0), "{task:?}");
        }
        // The same open files and registry from day 2 to day 30.
        let (day2, last) = (&daily[1], daily.last().unwrap());
        assert!(last.1 <= day2.1, "open files grew: {} on day 2, {} on day {}", day2.1, last.1, last.0);
        assert_eq!(last.2, day2.2, "the registry grew from day 2 to day {}", last.0);
        let jobs: Vec<(String, i64)> = {
            let db = app.testing_db();
            sqlx::query_as(&db.testing_sql("SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status")).fetch_all(db.testing_pool()).await.unwrap()
        };
        assert!(jobs.iter().all(|(status, _)| status == "succeeded"), "{jobs:?}");
        let alerts = alerts.lock().unwrap();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for alert in alerts.iter() {
            let kind = format!("{alert:?}").split([' ', '{', '(']).next().unwrap_or_default().to_string();
            *kinds.entry(kind).or_default() += 1;
        }

        println!("a month on a paused clock: {DAYS} days from {start} in {real_secs:.1} s of real time");
        println!("  occurrences: {} expected, {} started and ended (Berlin {}, New York {}), {} stream rows", expected.len(), expected.len(), berlin.len(), new_york.len(), rows.len());
        println!("  Berlin starts (UTC): {}", berlin.join(", "));
        println!("  New York starts (UTC): {}", new_york.join(", "));
        println!("  latest start {worst_start_ms} ms after its time, latest end {worst_end_ms} ms after its time");
        println!("  bytes per destination per occurrence: {:.1} MB (min {:.1}, max {:.1})", median as f64 / 1e6, bytes[0] as f64 / 1e6, bytes[bytes.len() - 1] as f64 / 1e6);
        println!("  tasks: {}", tasks.iter().map(|t| format!("{} (restarts {}, failures {})", t.name, t.restarts, t.failures)).collect::<Vec<_>>().join(", "));
        println!("  jobs by status: {jobs:?}; alerts by kind: {kinds:?}");
        println!("  open files on day 2 / day {}: {} / {}; registry on day 2: {:?}; on day {}: {:?}", last.0, day2.1, last.1, day2.2, last.0, last.2);
        app.close().await;
    })));
    clock.shutdown_timeout(Duration::from_secs(1));
    if let Err(panic) = month {
        std::panic::resume_unwind(panic);
    }
}
