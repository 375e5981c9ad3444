//! Every background loop of a long-running Twitcher — the window and `twitcher serve` — started
//! and ended in one place, so both do the same: stream logs pruned at start, the job worker, log
//! retention in S3, recovery of what a dead process left (streams whose lease expired, see
//! [`crate::lease`]), recurring schedules' ticks, due broadcasts, a watch on what other processes
//! schedule, Twitch token validation, and alerts; on a node also the heartbeat and the claim loop. Each is its own task, so a slow S3
//! listing never holds up a due broadcast. Surfaces start a [`Runtime`] and end it with
//! [`Runtime::shutdown`]; they run no background work of their own.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alerts::{self, Alert};
use crate::events::Event;
use crate::tasks::{announce, panic_text, Beat};
use crate::{broadcast, disk, health, jobs, nodes, schedules, twitch, Twitcher};

/// How often recovery, recurring schedules and due broadcasts look again.
const TICK: Duration = Duration::from_secs(2);
/// How often the next scheduled broadcast is looked up for changes made by other processes.
const WATCH_OTHERS_EVERY: Duration = Duration::from_secs(10);
/// How often old stream logs leave the bucket.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// How often the prepared copies are held to their budget and the disk's free space is checked.
const DISK_EVERY: Duration = Duration::from_secs(60);

/// How often each background task turns. A product runs [`Periods::default`]; a test that drives
/// a month on a simulated clock (`tests/month.rs`) turns them less often, or a month would be
/// millions of turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    /// Recovery, recurring schedules and due broadcasts.
    pub tick: Duration,
    pub watch_others: Duration,
    pub retention: Duration,
    pub disk: Duration,
    pub job_worker: Duration,
    pub alerts_idle: Duration,
    pub health_report: Duration,
    pub token_validation: Duration,
}

impl Default for Periods {
    fn default() -> Self {
        Self {
            tick: TICK,
            watch_others: WATCH_OTHERS_EVERY,
            retention: RETENTION_EVERY,
            disk: DISK_EVERY,
            job_worker: jobs::WORKER_PERIOD,
            alerts_idle: alerts::IDLE_TURN,
            health_report: health::REPORT_EVERY,
            token_validation: twitch::tokens::VALIDATE_EVERY,
        }
    }
}

impl Periods {
    /// Every task every `period` (a test's simulated month).
    pub fn all(period: Duration) -> Self {
        Self {
            tick: period,
            watch_others: period,
            retention: period,
            disk: period,
            job_worker: period,
            alerts_idle: period,
            health_report: period,
            token_validation: period,
        }
    }
}

/// A task that panicked starts again after this, doubling each time it panics again soon, up to
/// [`MAX_BACKOFF`]: a task that panics at once on every start costs a log line a minute, not a
/// busy loop.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

pub struct Runtime {
    app: Twitcher,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// A node's claim loop ([`broadcast::fleet`]): ended before its destinations are handed over.
    fleet: Option<JoinHandle<()>>,
}

impl Runtime {
    /// Starts the background work on the current tokio runtime, every task supervised (see
    /// [`every`] and [`supervise`]). `present` shows each alert the surface's way (a desktop
    /// notification, a log line); the core posts webhooks itself.
    pub fn start(app: &Twitcher, present: impl Fn(&Alert) + Send + Sync + 'static) -> Self {
        Self::start_with(app, Periods::default(), present)
    }

    /// [`Runtime::start`] with the tasks turning every `periods`.
    pub fn start_with(app: &Twitcher, periods: Periods, present: impl Fn(&Alert) + Send + Sync + 'static) -> Self {
        let shutdown = CancellationToken::new();
        let present: alerts::Present = Arc::new(present);
        #[cfg(feature = "testing")]
        for (name, count) in std::env::var("TWITCHER_TEST_PANIC_TASKS").unwrap_or_default().split(',').filter_map(|f| f.split_once('=')) {
            app.registry.tasks.inject_panics(name.trim(), count.trim().parse().unwrap_or(1));
        }
        let pruning = app.clone();
        let tasks = vec![
            tokio::spawn(async move {
                if let Err(e) = broadcast::prune_logs(&pruning).await {
                    tracing::error!(error = %e, "could not prune stream logs");
                }
                // Uploads a process that died left half-received.
                let dir = pruning.data_dir().to_path_buf();
                let _ = tokio::task::spawn_blocking(move || disk::sweep_stale_uploads(&dir)).await;
            }),
            // The prepared copies within their budget, and an alert before the disk is full.
            every(app, &shutdown, "disk watch", periods.disk, {
                let warned = Arc::new(std::sync::atomic::AtomicBool::new(false));
                move |app| {
                    let warned = warned.clone();
                    async move {
                        broadcast::prepare::evict(&app, None).await.map_err(|e| e.to_string())?;
                        disk::watch_free_space(&app, &warned).await.map_err(|e| e.to_string())
                    }
                }
            }),
            supervise(app, &shutdown, "job worker", periods.job_worker, jobs::run_worker),
            every(app, &shutdown, "log retention", periods.retention, |app| async move {
                broadcast::archive::apply_retention(&app, crate::clock::now()).await.map(|_| ())
            }),
            // Streams of a process that died (its lease expired) are closed, or restarted here.
            every(app, &shutdown, "recovery", periods.tick, |app| async move { broadcast::recover(&app).await.map(|_| ()) }),
            // Recurring schedules: the next occurrences become scheduled broadcasts, and those
            // whose end has come are ordered to stop.
            every(app, &shutdown, "recurring schedules", periods.tick, |app| async move { schedules::tick(&app, crate::clock::now()).await }),
            every(app, &shutdown, "scheduler: due broadcasts", periods.tick, |app| async move { broadcast::start_due(&app).await }),
            // Another process (the CLI, `serve`) may schedule or cancel on this data dir: what
            // shows the next broadcast (the tray) hears of it as an event, as of this process's.
            every(app, &shutdown, "schedule watch", periods.watch_others, {
                let seen = Arc::new(Mutex::new(None));
                move |app| notice_schedule_changes(app, seen.clone())
            }),
            supervise(app, &shutdown, "token validation", periods.token_validation, twitch::tokens::run_validation),
            supervise(app, &shutdown, alerts::TASK, periods.alerts_idle, move |app, shutdown, beat| alerts::run_with(app, shutdown, present.clone(), beat)),
            // Last: the health table, copied where `twitcher doctor` reads it.
            every(app, &shutdown, "health report", periods.health_report, |app| async move { health::report(&app).await }),
        ];
        Self { app: app.clone(), shutdown, tasks, fleet: None }
    }

    /// What a foreground broadcast of the command line (`twitcher stream start`) needs beside
    /// it: the alerts, since its destinations' events exist only in that process. No job worker
    /// and no scheduler: the window or `serve` runs those for the data dir.
    pub fn start_foreground(app: &Twitcher, present: impl Fn(&Alert) + Send + Sync + 'static) -> Self {
        let shutdown = CancellationToken::new();
        let present: alerts::Present = Arc::new(present);
        let tasks = vec![supervise(app, &shutdown, alerts::TASK, alerts::IDLE_TURN, move |app, shutdown, beat| alerts::run_with(app, shutdown, present.clone(), beat))];
        Self { app: app.clone(), shutdown, tasks, fleet: None }
    }

    /// [`Runtime::start`] for a server: also records this process as a node of the database,
    /// keeps its heartbeat until shutdown ([`nodes`]) and claims its share of the broadcasts'
    /// destinations ([`broadcast::fleet`]).
    pub fn start_node(app: &Twitcher, node: nodes::NodeInfo, present: impl Fn(&Alert) + Send + Sync + 'static) -> Self {
        app.become_node();
        let mut runtime = Self::start(app, present);
        let upload_mbps = node.upload_mbps;
        runtime.fleet = Some(supervise(app, &runtime.shutdown, "fleet: claims", broadcast::fleet::CLAIM_EVERY, move |app, shutdown, beat| {
            broadcast::fleet::run(app, upload_mbps, shutdown, beat)
        }));
        runtime.tasks.push(supervise(app, &runtime.shutdown, "node heartbeat", nodes::HEARTBEAT_EVERY, move |app, shutdown, beat| {
            nodes::run(app, node.clone(), shutdown, beat)
        }));
        runtime
    }

    /// Ends the background work and every broadcast this process runs — each destination ends
    /// its publish — waiting at most `timeout` in all. A job still running stops at its next
    /// check and is resumed at the next start.
    ///
    /// A node of a fleet first hands its destinations to the other nodes, when one is alive: they
    /// go on there (its own parts end as they see the others claim them).
    pub async fn shutdown(self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        self.shutdown.cancel();
        if let Some(fleet) = self.fleet {
            let _ = fleet.await;
            match broadcast::fleet::hand_over(&self.app).await {
                Ok(0) => {}
                Ok(_) => {
                    // The rows are released (nothing here writes them any more): end the publishes
                    // now, so the ingest is free when the taker connects (Twitch, like nginx,
                    // refuses a second publisher on a key).
                    self.app.registry.broadcasts.stop_all();
                    while self.app.registry.broadcasts.count() > 0 && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not hand this node's destinations over; stopping them"),
            }
        }
        if self.app.registry.broadcasts.stop_all() > 0 {
            while self.app.registry.broadcasts.count() > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        for supervisor in self.app.registry.broadcasts.take_detached() {
            let _ = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), supervisor).await;
        }
        for task in self.tasks {
            let _ = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), task).await;
        }
        // Gone, not silent: `twitcher doctor` stops listing this process.
        let _ = health::forget(&self.app).await;
    }
}

/// Runs `turn` now and then every `period` until shutdown, supervised, as task `name` of the
/// health table. Each turn is a tokio task of its own, so a panic ends that turn, not the task:
/// the panic is logged (the panic hook has logged where, through the redacting logger), counted
/// and announced, and the next turn waits out a backoff. A turn that fails is logged and counted
/// and the next one comes as usual; a late turn does not pile up: the next one waits a full
/// period.
fn every<F, Fut, E>(app: &Twitcher, shutdown: &CancellationToken, name: &'static str, period: Duration, turn: F) -> JoinHandle<()>
where
    F: Fn(Twitcher) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let (app, shutdown) = (app.clone(), shutdown.clone());
    let beat = app.registry.tasks.beat(name, period);
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let turn = turn(app.clone());
            let starting = beat.clone();
            let wait = match tokio::spawn(async move {
                starting.turn_starts();
                turn.await
            })
            .await
            {
                Ok(Ok(())) => {
                    announce(&app.events, &beat, beat.ok());
                    backoff = FIRST_BACKOFF;
                    period
                }
                Ok(Err(e)) => {
                    tracing::warn!(task = name, error = %e, "a background task's turn failed; it is tried again next turn");
                    announce(&app.events, &beat, beat.failed(&e));
                    period
                }
                Err(e) if e.is_panic() => {
                    let wait = restart_after(&app, &beat, &panic_text(e.into_panic()), backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
                Err(_) => return, // the runtime is shutting down
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    })
}

/// Runs a task that loops by itself (`body`: it reports each turn to its [`Beat`] and returns
/// when `shutdown` is cancelled), supervised as task `name`: should it panic or end on its own,
/// it is logged, counted, announced, and started again after a backoff.
fn supervise<F, Fut>(app: &Twitcher, shutdown: &CancellationToken, name: &'static str, period: Duration, body: F) -> JoinHandle<()>
where
    F: Fn(Twitcher, CancellationToken, Beat) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (app, shutdown) = (app.clone(), shutdown.clone());
    let beat = app.registry.tasks.beat(name, period);
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
            let body = body(app.clone(), shutdown.clone(), beat.clone());
            let starting = beat.clone();
            let outcome = tokio::spawn(async move {
                starting.turn_starts();
                body.await
            })
            .await;
            if shutdown.is_cancelled() {
                return;
            }
            let what = match outcome {
                Ok(()) => "it ended on its own".to_string(),
                Err(e) if e.is_panic() => panic_text(e.into_panic()),
                Err(_) => return,
            };
            // A task that ran well for a while starts over from the first backoff.
            if started.elapsed() > MAX_BACKOFF {
                backoff = FIRST_BACKOFF;
            }
            let wait = restart_after(&app, &beat, &what, backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    })
}

/// Records that task `beat` stopped with `what` and starts again after `backoff`; returns the
/// wait.
fn restart_after(app: &Twitcher, beat: &Beat, what: &str, backoff: Duration) -> Duration {
    tracing::error!(task = beat.name(), error = %what, backoff_sec = backoff.as_secs_f64(), "a background task stopped; it starts again after its backoff");
    announce(&app.events, beat, beat.restarting(what, backoff));
    backoff
}

/// The next scheduled broadcast (id, title, time) as this process last saw it: `None` before
/// the first look.
type SeenNext = Arc<Mutex<Option<Option<(String, String, String)>>>>;

/// Announces [`Event::ScheduleChanged`] when the next scheduled broadcast is not the one this
/// process last saw: another process scheduled, started or cancelled one. The first look only
/// records. A std lock: never held across an await.
async fn notice_schedule_changes(app: Twitcher, seen: SeenNext) -> Result<(), broadcast::BroadcastError> {
    let next = broadcast::next_scheduled(&app).await?;
    let previous = seen.lock().unwrap_or_else(|e| e.into_inner()).replace(next.clone());
    if previous.is_some_and(|previous| previous != next) {
        let broadcast_id = next.map(|(id, _, _)| id).unwrap_or_default();
        app.events.emit(Event::ScheduleChanged { broadcast_id });
    }
    Ok(())
}
