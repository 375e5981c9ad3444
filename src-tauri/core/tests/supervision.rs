//! Every background task of the runtime is supervised (issue 29): a panic ends one turn, not the
//! task; it is counted, named by health while the task waits out its backoff, and announced as
//! an alert (notification and webhook) — and once more when the task recovers. Faults are
//! injected with the `testing` build's `Tasks::inject_panics`, at the start of a turn.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use twitcher_core::alerts::Alert;
use twitcher_core::model::TaskState;
use twitcher_core::runtime::Runtime;
use twitcher_core::vault::KeyringPreference;
use twitcher_core::{health, Twitcher};

async fn until<T>(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_panics_restarts_with_backoff_health_names_it_meanwhile_and_alerts_say_failing_then_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let app: Twitcher = support::open(dir.path(), KeyringPreference::File).await;
    let admin = support::first_profile(&app).await;
    let (hook, posted) = support::webhook_receiver().await;
    twitcher_core::alerts::set_webhook_url(&app, &admin, &hook).await.unwrap();
    // Its first two turns panic: restarted after 1 s, then after 2 s.
    app.tasks().inject_panics("recovery", 2);
    let shown = Arc::new(Mutex::new(Vec::<Alert>::new()));
    let sink = shown.clone();
    let runtime = Runtime::start(&app, move |alert| sink.lock().unwrap().push(alert.clone()));

    let unhealthy = until("health to name the restarting task", Duration::from_secs(10), async || {
        let report = health::this_process(&app);
        (!report.healthy).then_some(report)
    })
    .await;
    assert!(unhealthy.problems.iter().any(|p| p.starts_with("recovery is restarting") && p.contains("injected")), "{:?}", unhealthy.problems);
    let recovery = unhealthy.tasks.iter().find(|t| t.name == "recovery").unwrap();
    assert_eq!(recovery.state, TaskState::Restarting);

    // Back after its backoffs: healthy, with its two restarts counted and turns completing.
    let healthy = until("health to be back", Duration::from_secs(15), async || {
        let report = health::this_process(&app);
        (report.healthy && report.tasks.iter().any(|t| t.name == "recovery" && t.state == TaskState::Ok)).then_some(report)
    })
    .await;
    let recovery = healthy.tasks.iter().find(|t| t.name == "recovery").unwrap();
    assert_eq!(recovery.restarts, 2, "{recovery:?}");
    assert!(recovery.last_turn_age_sec.is_some_and(|age| age < 3.0), "{recovery:?}");
    // Every other task of the runtime is in the table, each with its period.
    for name in ["job worker", "recurring schedules", "scheduler: due broadcasts", "log retention", "token validation", "alerts", "schedule watch", "health report"] {
        assert!(healthy.tasks.iter().any(|t| t.name == name && t.period_sec > 0.0), "{name} missing from {:?}", healthy.tasks);
    }

    // Announced once when it failed and once when it recovered: to the surface and the webhook.
    let alerts = until("both alerts", Duration::from_secs(10), async || {
        let shown = shown.lock().unwrap().clone();
        (shown.iter().any(|a| matches!(a, Alert::TaskRecovered { .. }))).then_some(shown)
    })
    .await;
    let about_recovery: Vec<&Alert> = alerts.iter().filter(|a| matches!(a, Alert::TaskFailing { task, .. } | Alert::TaskRecovered { task } if task == "recovery")).collect();
    assert!(matches!(about_recovery[..], [Alert::TaskFailing { .. }, Alert::TaskRecovered { .. }]), "{alerts:?}");
    let posts = until("the webhook posts", Duration::from_secs(10), async || {
        let posts = posted.lock().unwrap().clone();
        (posts.iter().filter(|p| p["event"].as_str().is_some_and(|e| e.starts_with("task_"))).count() >= 2).then_some(posts)
    })
    .await;
    let kinds: Vec<&str> = posts.iter().filter_map(|p| p["event"].as_str()).filter(|e| e.starts_with("task_")).collect();
    assert_eq!(kinds, ["task_failing", "task_recovered"], "{posts:?}");

    // What `twitcher doctor` reads: the same table, from the database.
    let reported = until("the report in the database", Duration::from_secs(10), async || {
        let all = health::every_process(&app).await.unwrap();
        all.into_iter().find(|p| p.instance_id == app.instance_id() && p.tasks.iter().any(|t| t.name == "recovery" && t.restarts == 2))
    })
    .await;
    assert!(reported.healthy, "{reported:?}");

    runtime.shutdown(Duration::from_secs(5)).await;
    assert!(health::every_process(&app).await.unwrap().is_empty(), "a process that ended leaves the table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_task_that_panics_is_started_again_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let app: Twitcher = support::open(dir.path(), KeyringPreference::File).await;
    let admin = support::first_profile(&app).await;
    app.tasks().inject_panics("job worker", 1);
    let runtime = Runtime::start(&app, |_| {});
    // A job queued after the worker's panic still runs: an import of a real file.
    let file = support::make_video(dir.path(), "clip", "mp4", &["-t", "1"]);
    let (ids, _) = twitcher_core::library::import(&app, &admin, &[file]).await.unwrap();
    // (With the worker running, this waits for it rather than running the job here.)
    let done = tokio::time::timeout(Duration::from_secs(60), twitcher_core::jobs::run_until_done(&app, &ids)).await.expect("the worker ran the job").unwrap();
    assert_eq!(done[0].status, twitcher_core::jobs::JobStatus::Succeeded, "{done:?}");
    let worker = health::this_process(&app).tasks.into_iter().find(|t| t.name == "job worker").unwrap();
    assert_eq!(worker.restarts, 1, "{worker:?}");
    runtime.shutdown(Duration::from_secs(5)).await;
}

/// Issue 29: a disk about to fill raises an alert before anything fails — once, not every
/// minute. (The threshold is raised through the `testing` build's TWITCHER_TEST_LOW_DISK_BYTES:
/// this machine's disk cannot be filled by a test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_below_its_threshold_raises_one_alert() {
    std::env::set_var("TWITCHER_TEST_LOW_DISK_BYTES", u64::MAX.to_string());
    let dir = tempfile::tempdir().unwrap();
    let app: Twitcher = support::open(dir.path(), KeyringPreference::File).await;
    let shown = Arc::new(Mutex::new(Vec::<Alert>::new()));
    let sink = shown.clone();
    let runtime = Runtime::start(&app, move |alert| sink.lock().unwrap().push(alert.clone()));
    let alert = until("the low-disk alert", Duration::from_secs(10), async || shown.lock().unwrap().iter().find(|a| matches!(a, Alert::DiskLow { .. })).cloned()).await;
    let Alert::DiskLow { free_bytes } = alert else { unreachable!() };
    assert!(free_bytes > 0);
    assert!(alert.text().1.contains("GB free"), "{:?}", alert.text());
    runtime.shutdown(Duration::from_secs(5)).await;

    // Turn after turn while it stays low: said once.
    let warned = std::sync::atomic::AtomicBool::new(false);
    let mut events = app.events.subscribe();
    for _ in 0..3 {
        twitcher_core::disk::watch_free_space(&app, &warned).await.unwrap();
    }
    let mut said = 0;
    while let Ok(event) = events.try_recv() {
        said += matches!(event, twitcher_core::events::Event::DiskLow { .. }) as usize;
    }
    assert_eq!(said, 1);
}
