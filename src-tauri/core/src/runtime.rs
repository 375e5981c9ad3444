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
use crate::{broadcast, jobs, nodes, schedules, twitch, Twitcher};

/// How often recovery, recurring schedules and due broadcasts look again.
const TICK: Duration = Duration::from_secs(2);
/// How often the next scheduled broadcast is looked up for changes made by other processes.
const WATCH_OTHERS_EVERY: Duration = Duration::from_secs(10);
/// How often old stream logs leave the bucket.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

pub struct Runtime {
    app: Twitcher,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// A node's claim loop ([`broadcast::fleet`]): ended before its destinations are handed over.
    fleet: Option<JoinHandle<()>>,
}

impl Runtime {
    /// Starts the background work on the current tokio runtime. `present` shows each alert the
    /// surface's way (a desktop notification, a log line); the core posts webhooks itself.
    pub fn start(app: &Twitcher, present: impl Fn(&Alert) + Send + 'static) -> Self {
        let shutdown = CancellationToken::new();
        let pruning = app.clone();
        let tasks = vec![
            tokio::spawn(async move {
                if let Err(e) = broadcast::prune_logs(&pruning).await {
                    tracing::error!(error = %e, "could not prune stream logs");
                }
            }),
            tokio::spawn(jobs::run_worker(app.clone(), shutdown.clone())),
            every(app, &shutdown, RETENTION_EVERY, |app| async move {
                if let Err(e) = broadcast::archive::apply_retention(&app, chrono::Utc::now()).await {
                    tracing::warn!(error = %e, "stream logs in S3: retention");
                }
            }),
            // Streams of a process that died (its lease expired) are closed, or restarted here.
            every(app, &shutdown, TICK, |app| async move {
                if let Err(e) = broadcast::recover(&app).await {
                    tracing::error!(error = %e, "recovery");
                }
            }),
            // Recurring schedules: the next occurrences become scheduled broadcasts, and those
            // whose end has come are ordered to stop.
            every(app, &shutdown, TICK, |app| async move { schedules::tick(&app, chrono::Utc::now()).await }),
            every(app, &shutdown, TICK, |app| async move {
                if let Err(e) = broadcast::start_due(&app).await {
                    tracing::error!(error = %e, "scheduler: due broadcasts");
                }
            }),
            // Another process (the CLI, `serve`) may schedule or cancel on this data dir: what
            // shows the next broadcast (the tray) hears of it as an event, as of this process's.
            every(app, &shutdown, WATCH_OTHERS_EVERY, {
                let seen = Arc::new(Mutex::new(None));
                move |app| notice_schedule_changes(app, seen.clone())
            }),
            tokio::spawn(twitch::tokens::run_validation(app.clone(), shutdown.clone())),
            tokio::spawn(alerts::run(app.clone(), shutdown.clone(), present)),
        ];
        Self { app: app.clone(), shutdown, tasks, fleet: None }
    }

    /// What a foreground broadcast of the command line (`twitcher stream start`) needs beside
    /// it: the alerts, since its destinations' events exist only in that process. No job worker
    /// and no scheduler: the window or `serve` runs those for the data dir.
    pub fn start_foreground(app: &Twitcher, present: impl Fn(&Alert) + Send + 'static) -> Self {
        let shutdown = CancellationToken::new();
        let tasks = vec![tokio::spawn(alerts::run(app.clone(), shutdown.clone(), present))];
        Self { app: app.clone(), shutdown, tasks, fleet: None }
    }

    /// [`Runtime::start`] for a server: also records this process as a node of the database,
    /// keeps its heartbeat until shutdown ([`nodes`]) and claims its share of the broadcasts'
    /// destinations ([`broadcast::fleet`]).
    pub fn start_node(app: &Twitcher, node: nodes::NodeInfo, present: impl Fn(&Alert) + Send + 'static) -> Self {
        app.become_node();
        let mut runtime = Self::start(app, present);
        runtime.fleet = Some(tokio::spawn(broadcast::fleet::run(app.clone(), node.upload_mbps, runtime.shutdown.clone())));
        runtime.tasks.push(tokio::spawn(nodes::run(app.clone(), node, runtime.shutdown.clone())));
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
    }
}

/// Runs `turn` now and then every `period` until shutdown, as its own task. A turn that is late
/// does not pile up: the next one waits a full period.
fn every<F, Fut>(app: &Twitcher, shutdown: &CancellationToken, period: Duration, turn: F) -> JoinHandle<()>
where
    F: Fn(Twitcher) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (app, shutdown) = (app.clone(), shutdown.clone());
    tokio::spawn(async move {
        loop {
            turn(app.clone()).await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
        }
    })
}

/// The next scheduled broadcast (id, title, time) as this process last saw it: `None` before
/// the first look.
type SeenNext = Arc<Mutex<Option<Option<(String, String, String)>>>>;

/// Announces [`Event::ScheduleChanged`] when the next scheduled broadcast is not the one this
/// process last saw: another process scheduled, started or cancelled one. The first look only
/// records. A std lock: never held across an await.
async fn notice_schedule_changes(app: Twitcher, seen: SeenNext) {
    let Ok(next) = broadcast::next_scheduled(&app).await else { return };
    let previous = seen.lock().unwrap_or_else(|e| e.into_inner()).replace(next.clone());
    if previous.is_some_and(|previous| previous != next) {
        let broadcast_id = next.map(|(id, _, _)| id).unwrap_or_default();
        app.events.emit(Event::ScheduleChanged { broadcast_id });
    }
}
