//! The durable job queue: work stored in the `jobs` table so it survives a crash. It knows no
//! kind of job: the table of kinds (import → `library`, upload → `storage`, prepare →
//! `broadcast::prepare`) is `job_kinds.rs`'s, installed once when a data dir is opened, so the
//! queue sits below every service that queues work on it.
//!
//! - A worker claims the oldest due job atomically, runs its handler, and records the outcome.
//! - A handler's error says whether trying again could help; if so the job is re-queued with an
//!   exponential backoff (2 s, 4 s, … 5 min) until `max_attempts`, then fails.
//! - At start-up, jobs a crash left `running` are re-queued (handlers are written to be
//!   restartable) or, out of attempts, failed.
//! - Progress is saved and sent as [`Event::Job`], at most a few times a second.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::db::DbError;
use crate::events::{Event, JobEvent};
pub use crate::model::{Job, JobStatus};
use crate::Twitcher;

/// What runs the jobs of one kind: `run(ctx)` does the work, reporting through `ctx`.
pub struct JobKind {
    pub name: &'static str,
    pub run: for<'a, 'b> fn(&'a mut JobContext<'b>) -> Pin<Box<dyn Future<Output = Result<JobOutcome, JobError>> + Send + 'a>>,
}

/// The kinds this process runs, installed once (`job_kinds::install`, when a data dir opens).
static KINDS: OnceLock<&'static [JobKind]> = OnceLock::new();

/// Installs the table of job kinds; later calls keep the first table (there is only one).
pub fn install(kinds: &'static [JobKind]) {
    let _ = KINDS.set(kinds);
}

/// Why a handler stopped. `retry` when the cause may pass (a full disk, a network error).
#[derive(Debug)]
pub struct JobError {
    pub message: String,
    pub retry: bool,
}

impl JobError {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), retry: false }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), retry: true }
    }
}

impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        JobError::transient(e.to_string())
    }
}

/// What a handler reports back.
#[derive(Debug, Default, Clone, Copy)]
pub struct JobOutcome {
    pub video_id: Option<i64>,
}

/// Handed to a running handler: report progress, notice cancellation.
pub struct JobContext<'a> {
    pub app: &'a Twitcher,
    pub job: &'a Job,
    pub cancel: CancellationToken,
    label: String,
    profile_id: Option<i64>,
    started: Instant,
    last_report: std::sync::Mutex<(Instant, f64)>,
}

impl JobContext<'_> {
    /// Saves and announces progress (0..=1), throttled to about four times a second.
    pub async fn progress(&self, fraction: f64) {
        let fraction = fraction.clamp(0.0, 1.0);
        {
            // A std lock: never held across an await.
            let mut last = self.last_report.lock().unwrap_or_else(|e| e.into_inner());
            if last.0.elapsed() < Duration::from_millis(250) && fraction - last.1 < 0.05 {
                return;
            }
            *last = (Instant::now(), fraction);
        }
        let _ = self.app.db.set_job_progress(self.job.id, fraction).await;
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = (fraction > 0.02).then(|| elapsed * (1.0 - fraction) / fraction);
        self.emit(JobStatus::Running, fraction, eta, None, None);
    }

    /// The job's payload; one that does not parse is a permanent failure.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_str(&self.job.payload).map_err(|e| JobError::permanent(format!("bad {} job: {e}", self.job.kind)))
    }

    /// The video a job works on, which must still exist.
    pub async fn video(&self, profile_id: i64, video_id: i64) -> Result<crate::model::Video, JobError> {
        self.app
            .db
            .video(profile_id, video_id)
            .await?
            .ok_or_else(|| JobError::permanent(format!("video {video_id} no longer exists")))
    }

    pub fn set_label(&mut self, label: impl Into<String>, profile_id: Option<i64>) {
        self.label = label.into();
        self.profile_id = profile_id;
    }

    fn emit(&self, status: JobStatus, progress: f64, eta_sec: Option<f64>, error: Option<String>, video_id: Option<i64>) {
        self.app.events.emit(Event::Job(JobEvent {
            job_id: self.job.id,
            kind: self.job.kind.clone(),
            profile_id: self.profile_id,
            label: self.label.clone(),
            status,
            progress,
            eta_sec,
            error,
            video_id,
        }));
    }
}

/// Who a job belongs to and what to call it, read from any job's payload.
#[derive(Deserialize)]
struct Labelled {
    #[serde(default)]
    profile_id: Option<i64>,
    #[serde(default)]
    label: Option<String>,
}

pub async fn enqueue(app: &Twitcher, kind: &str, payload: &impl Serialize) -> Result<i64, DbError> {
    enqueue_once(app, kind, None, payload).await
}

/// Queues a job unless one with the same `key` is open (queued or running), in which case that
/// one's id is returned: the caller joins it (a second preparation of one video at one quality).
pub async fn enqueue_once(app: &Twitcher, kind: &str, key: Option<&str>, payload: &impl Serialize) -> Result<i64, DbError> {
    let payload = serde_json::to_string(payload).expect("serializable payload");
    // Every job's payload names the profile it works for: the worker serves profiles in turn.
    let profile_id = serde_json::from_str::<serde_json::Value>(&payload).ok().and_then(|p| p["profile_id"].as_i64());
    let (id, new) = app.db.insert_job(kind, &payload, 5, key, profile_id).await?;
    if new {
        app.registry.jobs_changed.notify_waiters();
    }
    Ok(id)
}

fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1u64.checked_shl(attempts.clamp(1, 20) as u32).unwrap_or(u64::MAX).min(300))
}

/// Re-queues the jobs whose process stopped renewing its lease (it crashed or hung), never a live
/// process's. The worker runs it at start and then every few seconds.
pub async fn recover(app: &Twitcher) -> Result<(), DbError> {
    let (requeued, failed) = app.db.recover_jobs(crate::lease::expires_after(app).as_secs_f64()).await?;
    if requeued + failed > 0 {
        tracing::warn!(requeued, failed, "recovered jobs left running by an earlier run");
    }
    Ok(())
}

/// Claims and runs one due job (the oldest, or `only` that one). `Ok(false)` when none is due.
pub async fn run_one(app: &Twitcher, only: Option<i64>) -> Result<bool, DbError> {
    crate::lease::keep(app);
    let Some(job) = app.db.claim_job(app.instance_id(), only).await? else {
        return Ok(false);
    };
    let labelled: Labelled = serde_json::from_str(&job.payload).unwrap_or(Labelled { profile_id: None, label: None });
    let cancel = CancellationToken::new();
    app.registry.running_jobs.lock().unwrap_or_else(|e| e.into_inner()).insert(job.id, cancel.clone());
    let mut ctx = JobContext {
        app,
        job: &job,
        cancel,
        label: labelled.label.unwrap_or_else(|| job.kind.clone()),
        profile_id: labelled.profile_id,
        started: Instant::now(),
        last_report: std::sync::Mutex::new((Instant::now() - Duration::from_secs(1), -1.0)),
    };
    ctx.emit(JobStatus::Running, job.progress, None, None, None);
    let kind = KINDS.get().and_then(|kinds| kinds.iter().find(|k| k.name == job.kind));
    let result = match kind {
        Some(kind) => {
            let faults = app.registry.tasks.clone();
            let name = format!("job {}", job.kind);
            let run = async {
                faults.panic_if_injected(&name);
                (kind.run)(&mut ctx).await
            };
            // A handler that panics fails its job — permanently, with a reason — and not the
            // worker; nor is the job left "running" under a lease this process keeps renewing.
            match futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run)).await {
                Ok(result) => result,
                Err(panic) => {
                    tracing::error!(job_id = job.id, kind = %job.kind, error = %crate::tasks::panic_text(panic), "a job's handler panicked; the job fails");
                    Err(JobError::permanent(format!("{}: internal error: the job stopped (the log has the details)", ctx.label)))
                }
            }
        }
        None => Err(JobError::permanent(format!("unknown job kind '{}'", job.kind))),
    };
    let cancelled = ctx.cancel.is_cancelled();
    app.registry.running_jobs.lock().unwrap_or_else(|e| e.into_inner()).remove(&job.id);
    match result {
        _ if cancelled => {
            app.db.finish_job(job.id, JobStatus::Cancelled, None, None, app.instance_id()).await?;
            ctx.emit(JobStatus::Cancelled, job.progress, None, None, None);
        }
        Ok(outcome) => {
            app.db.finish_job(job.id, JobStatus::Succeeded, None, outcome.video_id, app.instance_id()).await?;
            ctx.emit(JobStatus::Succeeded, 1.0, Some(0.0), None, outcome.video_id);
        }
        Err(e) if e.retry && job.attempts < job.max_attempts => {
            let delay = backoff(job.attempts);
            tracing::warn!(job_id = job.id, kind = %job.kind, attempt = job.attempts, delay_s = delay.as_secs(), error = %e.message, "job will be retried");
            app.db.retry_job(job.id, &e.message, delay.as_secs_f64(), app.instance_id()).await?;
            ctx.emit(JobStatus::Queued, job.progress, None, Some(e.message), None);
        }
        Err(e) => {
            tracing::warn!(job_id = job.id, kind = %job.kind, error = %e.message, "job failed");
            app.db.finish_job(job.id, JobStatus::Failed, Some(&e.message), None, app.instance_id()).await?;
            ctx.emit(JobStatus::Failed, job.progress, None, Some(e.message), None);
        }
    }
    Ok(true)
}

/// Waits until every job in `ids` has ended; returns them as they ended. In a process whose job
/// worker runs (the window, `serve`) the worker runs them; elsewhere (a `twitcher` command) this
/// runs them itself — only these, never anyone else's queued work. A job another process runs is
/// waited for.
pub async fn run_until_done(app: &Twitcher, ids: &[i64]) -> Result<Vec<Job>, DbError> {
    let worker = app.registry.worker_running.load(std::sync::atomic::Ordering::Relaxed);
    loop {
        let mut done = Vec::with_capacity(ids.len());
        for id in ids {
            match app.db.job(*id).await? {
                Some(job) if job.status.is_finished() => done.push(job),
                _ => break,
            }
        }
        if done.len() == ids.len() {
            return Ok(done);
        }
        let mut ran = false;
        if !worker {
            for id in ids {
                ran |= run_one(app, Some(*id)).await?;
            }
        }
        if !ran {
            // Not due yet (a retry's backoff), or another worker or process runs it.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The desktop's worker: runs jobs as they come until `shutdown` fires.
/// How often the job worker looks for work when nothing wakes it.
pub const WORKER_PERIOD: Duration = Duration::from_secs(1);

/// Runs jobs until `shutdown`, reporting each turn to `beat`. While a job runs, the worker
/// counts as alive: the job's own limits (FFmpeg's wall clock, see `media::runner`) end a hang.
pub async fn run_worker(app: Twitcher, shutdown: CancellationToken, beat: crate::tasks::Beat) {
    app.registry.worker_running.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut recovered = Instant::now() - Duration::from_secs(60);
    let period = beat.period();
    loop {
        // Jobs of a process that died (lease expired) go back to the queue, every few seconds.
        if recovered.elapsed() >= Duration::from_secs(5) {
            recovered = Instant::now();
            if let Err(e) = recover(&app).await {
                tracing::error!(error = %e, "could not recover jobs");
                beat.failed(&e);
            }
        }
        let one = run_one(&app, None);
        tokio::pin!(one);
        let outcome = loop {
            tokio::select! {
                outcome = &mut one => break outcome,
                _ = tokio::time::sleep(period) => { beat.ok(); }
            }
        };
        match outcome {
            Ok(true) => {
                beat.ok();
                continue;
            }
            Ok(false) => {
                beat.ok();
            }
            Err(e) => {
                tracing::error!(error = %e, "job worker");
                beat.failed(&e);
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = app.registry.jobs_changed.notified() => {}
            _ = tokio::time::sleep(period) => {}
        }
    }
}

/// Cancels a job for `actor`: its own, or any when it is an ADMIN. Another profile's job is
/// `Ok(false)`, as one that does not exist — what the window's Cancel buttons call.
pub async fn cancel_for(app: &Twitcher, actor: &crate::model::Profile, id: i64) -> Result<bool, DbError> {
    let Some(job) = app.db.job(id).await? else { return Ok(false) };
    // Every job's payload names the profile it works for.
    let owner = serde_json::from_str::<serde_json::Value>(&job.payload).ok().and_then(|p| p["profile_id"].as_i64());
    if actor.role != crate::model::Role::Admin && owner != Some(actor.id) {
        return Ok(false);
    }
    cancel(app, id).await
}

/// Cancels a queued or running job. A running handler stops at its next check.
pub async fn cancel(app: &Twitcher, id: i64) -> Result<bool, DbError> {
    if let Some(token) = app.registry.running_jobs.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        token.cancel();
        return Ok(true);
    }
    app.db.cancel_job(id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(8), Duration::from_secs(256));
        assert_eq!(backoff(9), Duration::from_secs(300));
        assert_eq!(backoff(1000), Duration::from_secs(300));
    }
}
